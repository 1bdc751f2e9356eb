export * from './config.ts';
export * from './engine.ts';
export type { IngredientId } from './ingredients.ts';
export { ROUTE_CLASSES, type RouteClass } from './routes.ts';
export * from './types.ts';
