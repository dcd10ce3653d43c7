/**
 * A realistic family office: two parents and their holding company, each a Powens user with a permanent token,
 * banking in EUR, CHF, USD and GBP across French, Swiss, British and US institutions. One connection
 * (Louis @ Boursorama) is blocked in SCARequired and one account is disabled, so every run exercises the
 * "do not force, needs the user" path and the `?all` filter. Accounts cover every asset class (cash incl. a joint
 * account and a term deposit, a deferred-debit card, investments, a mortgage loan, an `unknown`-typed account).
 *
 * Timestamps are relative to `now` (default FAMILY_OFFICE_REFERENCE_NOW) so a test with an injected clock gets
 * the same staleness picture every time.
 */
import {
  ago,
  DAY_MS,
  HOUR_MS,
  inFuture,
  makeAccount,
  makeConnection,
  type SandboxConnectionSeed,
  type SandboxDataset,
} from './dataset';

export const FAMILY_OFFICE_REFERENCE_NOW = new Date('2025-06-02T06:00:00Z');

/** Ids worth naming in tests. */
export const FAMILY_OFFICE_IDS = {
  users: { claire: 1001, louis: 1002, holding: 1003 },
  connections: {
    claireBnp: 2001,
    claireUbs: 2002,
    louisSocGen: 2011,
    louisBoursorama: 2012,
    holdingQonto: 2021,
    holdingHsbc: 2022,
    holdingIbkr: 2023,
  },
  /** The one connection in SCARequired. */
  scaRequiredConnection: 2012,
  /** The one disabled account (Louis, Société Générale "Livret A"). */
  disabledAccount: 3113,
} as const;

export function createFamilyOfficeDataset(options: { now?: Date } = {}): SandboxDataset {
  const now = options.now ?? FAMILY_OFFICE_REFERENCE_NOW;
  const ids = FAMILY_OFFICE_IDS;
  const created = ago(now, 420 * DAY_MS);
  const consentEnd = inFuture(now, 95 * DAY_MS);

  const conn = (
    id: number,
    userId: number,
    idConnector: number,
    connectorUuid: string,
    freshness: { lastUpdateAgoMs: number; nextTryInMs: number | null },
    extra: { state?: 'SCARequired'; errorMessage?: string } = {},
  ) =>
    makeConnection({
      id,
      userId,
      idConnector,
      connectorUuid,
      created,
      lastUpdate: ago(now, freshness.lastUpdateAgoMs),
      nextTry: freshness.nextTryInMs === null ? null : inFuture(now, freshness.nextTryInMs),
      expire: consentEnd,
      ...(extra.state ? { state: extra.state } : {}),
      ...(extra.errorMessage ? { errorMessage: extra.errorMessage } : {}),
    });

  // --- Claire Martin -------------------------------------------------------------------------------------------
  const claireBnp = conn(ids.connections.claireBnp, ids.users.claire, 3, '5e1b1b3a-7c6e-4f7e-9a3b-0b1c2d3e4f01', {
    lastUpdateAgoMs: 26 * HOUR_MS,
    nextTryInMs: -2 * HOUR_MS,
  });
  const claireUbs = conn(ids.connections.claireUbs, ids.users.claire, 1042, '5e1b1b3a-7c6e-4f7e-9a3b-0b1c2d3e4f02', {
    lastUpdateAgoMs: 3 * HOUR_MS,
    nextTryInMs: 21 * HOUR_MS,
  });
  const claire: SandboxConnectionSeed[] = [
    {
      connection: claireBnp,
      accounts: [
        makeAccount(claireBnp, {
          id: 3101,
          name: 'Compte de chèques',
          type: 'checking',
          currency: 'EUR',
          balance: 18_452.37,
          coming: -312.4,
          iban: 'FR7630004000031234567890143',
        }),
        makeAccount(claireBnp, {
          id: 3102,
          name: 'Livret Développement Durable',
          type: 'savings',
          currency: 'EUR',
          balance: 12_000,
          iban: 'FR7630004000039876543210987',
        }),
        makeAccount(claireBnp, {
          id: 3103,
          name: 'Visa Premier',
          type: 'card',
          currency: 'EUR',
          balance: -1_284.56,
          coming: -1_284.56,
          idParent: 3101,
        }),
        makeAccount(claireBnp, {
          id: 3104,
          name: 'Assurance vie Multiplacements',
          type: 'lifeinsurance',
          currency: 'EUR',
          balance: 245_800.12,
        }),
        makeAccount(claireBnp, {
          id: 3105,
          name: 'Compte joint',
          type: 'joint',
          currency: 'EUR',
          balance: 3_410.77,
          coming: -45.9,
          iban: 'FR7630004000034444444444405',
        }),
        makeAccount(claireBnp, { id: 3106, name: 'PEA BNP Paribas', type: 'pea', currency: 'EUR', balance: 84_200.5 }),
      ],
    },
    {
      connection: claireUbs,
      accounts: [
        makeAccount(claireUbs, {
          id: 3201,
          name: 'UBS Privatkonto',
          type: 'checking',
          currency: 'CHF',
          balance: 64_210.5,
          iban: 'CH9300762011623852957',
        }),
        makeAccount(claireUbs, { id: 3202, name: 'UBS Depot', type: 'market', currency: 'CHF', balance: 1_120_450.75 }),
        makeAccount(claireUbs, {
          id: 3203,
          name: 'UBS USD Account',
          type: 'checking',
          currency: 'USD',
          balance: 88_340.02,
          iban: 'CH5604835012345678009',
        }),
      ],
    },
  ];

  // --- Louis Martin --------------------------------------------------------------------------------------------
  const louisSocGen = conn(ids.connections.louisSocGen, ids.users.louis, 4, '5e1b1b3a-7c6e-4f7e-9a3b-0b1c2d3e4f03', {
    lastUpdateAgoMs: 30 * HOUR_MS,
    nextTryInMs: null,
  });
  const louisBoursorama = conn(
    ids.connections.louisBoursorama,
    ids.users.louis,
    11,
    '5e1b1b3a-7c6e-4f7e-9a3b-0b1c2d3e4f04',
    { lastUpdateAgoMs: 9 * DAY_MS, nextTryInMs: null },
    {
      state: 'SCARequired',
      errorMessage: "Veuillez valider l'authentification forte depuis l'application Boursorama.",
    },
  );
  const louis: SandboxConnectionSeed[] = [
    {
      connection: louisSocGen,
      accounts: [
        makeAccount(louisSocGen, {
          id: 3111,
          name: 'Compte courant',
          type: 'checking',
          currency: 'EUR',
          balance: 7_321.9,
          coming: -58.3,
          iban: 'FR7630003000301234567890189',
        }),
        makeAccount(louisSocGen, {
          id: 3112,
          name: 'Sogécap Assurance vie',
          type: 'lifeinsurance',
          currency: 'EUR',
          balance: 98_450,
        }),
        makeAccount(louisSocGen, {
          id: ids.disabledAccount,
          name: 'Livret A',
          type: 'savings',
          currency: 'EUR',
          balance: 22_950,
          disabled: ago(now, 60 * DAY_MS),
          iban: 'FR7630003000305555555555521',
        }),
        makeAccount(louisSocGen, {
          id: 3114,
          name: 'Prêt immobilier',
          type: 'loan',
          currency: 'EUR',
          balance: -312_450.18,
        }),
      ],
    },
    {
      connection: louisBoursorama,
      accounts: [
        makeAccount(louisBoursorama, {
          id: 3121,
          name: 'Compte Boursorama',
          type: 'checking',
          currency: 'EUR',
          balance: 2_140.15,
          iban: 'FR7640618802650004034616521',
        }),
        makeAccount(louisBoursorama, {
          id: 3122,
          name: 'Compte-titres',
          type: 'market',
          currency: 'EUR',
          balance: 56_780.44,
        }),
      ],
    },
  ];

  // --- Martin Holding SAS --------------------------------------------------------------------------------------
  const qonto = conn(ids.connections.holdingQonto, ids.users.holding, 1206, '5e1b1b3a-7c6e-4f7e-9a3b-0b1c2d3e4f05', {
    lastUpdateAgoMs: 25 * HOUR_MS,
    nextTryInMs: 1 * HOUR_MS,
  });
  const hsbc = conn(ids.connections.holdingHsbc, ids.users.holding, 1311, '5e1b1b3a-7c6e-4f7e-9a3b-0b1c2d3e4f06', {
    lastUpdateAgoMs: 2 * DAY_MS,
    nextTryInMs: null,
  });
  const ibkr = conn(ids.connections.holdingIbkr, ids.users.holding, 1420, '5e1b1b3a-7c6e-4f7e-9a3b-0b1c2d3e4f07', {
    lastUpdateAgoMs: 20 * HOUR_MS,
    nextTryInMs: 4 * HOUR_MS,
  });
  const orga = { usage: 'ORGA' as const, companyName: 'Martin Holding SAS' };
  const holding: SandboxConnectionSeed[] = [
    {
      connection: qonto,
      accounts: [
        makeAccount(qonto, {
          id: 3301,
          name: 'Qonto Principal',
          type: 'checking',
          currency: 'EUR',
          balance: 412_380.66,
          coming: -4_200,
          iban: 'FR7616958000013234567890178',
          ...orga,
        }),
        makeAccount(qonto, {
          id: 3302,
          name: 'Qonto Dépôt à terme',
          type: 'deposit',
          currency: 'EUR',
          balance: 1_500_000,
          ...orga,
        }),
        // A type Powens could not classify: shown on its own row, never counted as cash.
        makeAccount(qonto, {
          id: 3303,
          name: 'Compte séquestre',
          type: 'unknown',
          currency: 'EUR',
          balance: 25_000,
          ...orga,
        }),
      ],
    },
    {
      connection: hsbc,
      accounts: [
        makeAccount(hsbc, {
          id: 3401,
          name: 'HSBC Business Current',
          type: 'checking',
          currency: 'GBP',
          balance: 184_002.3,
          iban: 'GB33HBUK40127612345678',
          ...orga,
        }),
        makeAccount(hsbc, {
          id: 3402,
          name: 'HSBC USD Savings',
          type: 'savings',
          currency: 'USD',
          balance: 650_000,
          ...orga,
        }),
      ],
    },
    {
      connection: ibkr,
      accounts: [
        makeAccount(ibkr, {
          id: 3501,
          name: 'IBKR Portfolio',
          type: 'market',
          currency: 'USD',
          balance: 2_345_678.9,
          ...orga,
        }),
        makeAccount(ibkr, {
          id: 3502,
          name: 'IBKR CHF Cash',
          type: 'checking',
          currency: 'CHF',
          balance: 35_000,
          ...orga,
        }),
      ],
    },
  ];

  return {
    clientId: 'family-office-sandbox',
    clientSecret: 'sandbox-client-secret-do-not-use-in-prod',
    seed: 20250602,
    users: [
      {
        id: ids.users.claire,
        token: 'sbx_usr_1001_c1a1re7f3e9b2d4a',
        label: 'Claire Martin',
        signin: created,
        connections: claire,
      },
      {
        id: ids.users.louis,
        token: 'sbx_usr_1002_l0u15a8c6d1e5f0b',
        label: 'Louis Martin',
        signin: created,
        connections: louis,
      },
      {
        id: ids.users.holding,
        token: 'sbx_usr_1003_h0ld1n9b7a2c4e6d',
        label: 'Martin Holding SAS',
        signin: created,
        connections: holding,
      },
    ],
  };
}
