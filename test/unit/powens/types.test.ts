import {
  classifyConnectionState,
  KNOWN_CONNECTION_STATES,
  type ConnectionStateClass,
} from '../../../lambdas/core/adapters/powens/types';

describe('classifyConnectionState', () => {
  const expected: Record<string, ConnectionStateClass> = {
    validating: 'in_progress',
    rateLimiting: 'transient',
    websiteUnavailable: 'transient',
    bug: 'transient',
    SCARequired: 'needs_user',
    webauthRequired: 'needs_user',
    additionalInformationNeeded: 'needs_user',
    decoupled: 'needs_user',
    actionNeeded: 'needs_user',
    passwordExpired: 'needs_user',
    wrongpass: 'needs_user',
    notSupported: 'unrecoverable',
  };

  it('treats null (last sync succeeded) and an absent state as ok', () => {
    expect(classifyConnectionState(null)).toBe('ok');
    expect(classifyConnectionState(undefined)).toBe('ok');
  });

  it.each(Object.entries(expected))('%s → %s', (state, cls) => {
    expect(classifyConnectionState(state)).toBe(cls);
  });

  it('classifies every known state (no state silently falls through)', () => {
    expect([...KNOWN_CONNECTION_STATES].sort()).toEqual(Object.keys(expected).sort());
  });

  it('treats states Powens may add later as needing attention, never as ok or forceable', () => {
    expect(classifyConnectionState('brandNewPowensState')).toBe('unrecoverable');
    // Case matters: Powens spells it `wrongpass`; `wrongPass` is not a known state.
    expect(classifyConnectionState('wrongPass')).toBe('unrecoverable');
    expect(classifyConnectionState('')).toBe('unrecoverable');
    expect(classifyConnectionState('constructor')).toBe('unrecoverable');
  });
});
