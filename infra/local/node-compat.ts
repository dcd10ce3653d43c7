/**
 * The Lambda runtime is Node 22; this project's machines and many users run Node 20. The only Node 22 API our
 * toolchain needs is Promise.withResolvers (aws-local-stepfunctions 3 calls it on every Task; without it each Task
 * fails with a TypeError that its own Catch swallows). Importing this module first makes Node >= 20.19 behave like
 * 22 for that API, for `npm start`, the tests and the benchmarks alike. It is a no-op on Node 22+.
 */
type Resolvers<T> = {
  promise: Promise<T>;
  resolve: (value: T | PromiseLike<T>) => void;
  reject: (reason?: unknown) => void;
};

const PromiseCtor = Promise as unknown as { withResolvers?: <T>() => Resolvers<T> };
if (typeof PromiseCtor.withResolvers !== 'function') {
  PromiseCtor.withResolvers = <T>(): Resolvers<T> => {
    let resolve!: Resolvers<T>['resolve'];
    let reject!: Resolvers<T>['reject'];
    const promise = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}

export {};
