/** An Error whose `name` is what the code under test matches on (an ASL error name, an AWS SDK exception name). */
export function namedError(name: string, message = `${name} (test)`): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}
