import { parseRefreshInput, selectUsers } from '../../../lambdas/core/domain/input';

describe('parseRefreshInput', () => {
  it('accepts the documented fields and treats null/absent as {}', () => {
    const full = { userIds: [1, 2], connectionIds: [3], psuRequested: true, requestId: 'req_1-a' };
    expect(parseRefreshInput(full)).toEqual(full);
    expect(parseRefreshInput(null)).toEqual({});
    expect(parseRefreshInput(undefined)).toEqual({});
  });

  it('reports every problem, naming the field', () => {
    expect(() => parseRefreshInput({ userIds: [1, 1], requestId: 'no spaces', foo: 1 })).toThrow(
      expect.objectContaining({
        name: 'ValidationFailed',
        message: expect.stringMatching(
          /unknown property "foo".*input\.userIds must NOT have duplicate items.*input\.requestId must match pattern/s,
        ),
      }),
    );
  });
});

describe('selectUsers', () => {
  const secret = {
    clientId: 'c',
    clientSecret: 's',
    users: [
      { userId: 1, token: 'a' },
      { userId: 2, token: 'b' },
    ],
  };
  it('defaults to every configured user and keeps the requested order', () => {
    expect(selectUsers(secret, undefined).map((u) => u.userId)).toEqual([1, 2]);
    expect(selectUsers(secret, [2]).map((u) => u.userId)).toEqual([2]);
  });
  it('names unknown ids (and only ids: no tokens)', () => {
    expect(() => selectUsers(secret, [2, 7])).toThrow(
      expect.objectContaining({
        name: 'ValidationFailed',
        message: expect.stringContaining('not configured in the Powens secret: 7 (configured: 1, 2)'),
      }),
    );
  });
});
