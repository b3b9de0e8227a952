export * from './constants.ts';
export type * from './controllerring.generated.ts';
