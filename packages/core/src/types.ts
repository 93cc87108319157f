/**
 * Plain types shared by the connector SDK (connector.ts) and the HTTP toolkit (http/*). This module
 * imports nothing, so neither side has to import the other for them (no import cycle).
 */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type DataRecord = Record<string, unknown>;

export type ProgressEvent =
  | { type: 'wait'; ms: number; reason: string }
  | { type: 'retry'; attempt: number; reason: string }
  | { type: 'note'; message: string };

export interface Logger {
  debug(msg: string, data?: Record<string, unknown>): void;
  info(msg: string, data?: Record<string, unknown>): void;
  warn(msg: string, data?: Record<string, unknown>): void;
  error(msg: string, data?: Record<string, unknown>): void;
}
