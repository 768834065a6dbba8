/** Compile-time assertions shared by the type tests. */

/** true when A and B are the same type (not merely assignable). */
export type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false

/** Compiles only when given `true`: `expectType<Equal<X, Y>>(true)`. */
export function expectType<T extends true> (_: T): void {}
