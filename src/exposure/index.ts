export * from './config.ts';
export * from './engine.ts';
export * from './types.ts';
export { ROUTE_CLASSES, type RouteClass } from './routes.ts';
export type { IngredientId } from './ingredients.ts';
