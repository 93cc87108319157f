// Placeholder: replaced by the shared Temporal dev-server setup for end-to-end tests.
export default async function setup() {}
