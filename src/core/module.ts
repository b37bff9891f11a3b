import type { AnyAggregate } from './decider.js';

/**
 * The shape every area of the product takes (DESIGN.md "Layout"): a name, the streams it
 * owns, its read models, and a factory that, given what the module needs, returns what it
 * contributes (topics, routes, processors, a fast path, its API for other modules). The
 * concrete part types are bound in runtime/module.ts; core fixes only the shape, so it stays
 * free of every layer above it.
 */
export interface ModuleShape<Projection, Deps, Instance> {
  readonly name: string;
  /** Registered with the actor runtime before anything starts. */
  readonly aggregates: readonly AnyAggregate[];
  /** Set up with the store; inline ones run in the append's transaction; replay rebuilds them all. */
  readonly projections: readonly Projection[];
  create(deps: Deps): Instance;
}
