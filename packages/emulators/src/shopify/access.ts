import { TypeInfo, visit, visitWithTypeInfo, type DocumentNode, type GraphQLSchema } from 'graphql';
import { FIELD_SCOPES } from './schema';

export interface Denial {
  scope: string;
  field: string;
  type: string;
  locations: { line: number; column: number }[];
}

/** Fields of the document whose access scope the token lacks (Shopify checks before executing). */
export function deniedFields(schema: GraphQLSchema, doc: DocumentNode, scopes: ReadonlySet<string>): Denial[] {
  const info = new TypeInfo(schema);
  const out: Denial[] = [];
  visit(
    doc,
    visitWithTypeInfo(info, {
      Field(node) {
        const parent = info.getParentType();
        if (!parent) return;
        const scope = FIELD_SCOPES[`${parent.name}.${node.name.value}`];
        if (!scope) return;
        // write_x implies read_x, as in Shopify.
        if (scopes.has(scope) || scopes.has(scope.replace(/^read_/, 'write_'))) return;
        const loc = node.loc ? [{ line: node.loc.startToken.line, column: node.loc.startToken.column }] : [];
        out.push({ scope, field: node.name.value, type: parent.name, locations: loc });
      },
    }),
  );
  return out;
}

export function accessDeniedError(d: Denial, path: string[]) {
  return {
    message: `Access denied for ${d.field} field. Required access: \`${d.scope}\` access scope.`,
    locations: d.locations,
    path,
    extensions: { code: 'ACCESS_DENIED', documentation: 'https://shopify.dev/api/usage/access-scopes', requiredAccess: `\`${d.scope}\` access scope.` },
  };
}
