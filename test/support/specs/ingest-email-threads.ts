/** ContractSpec PFO `pfo.workflow.ingest-email-threads` (docs/contractspec-semantics.md §3.5), as published. */
import { defineWorkflow } from '../../../infra/compiler/spec';

export const ingestEmailThreadsWorkflow = defineWorkflow({
  meta: {
    key: 'pfo.workflow.ingest-email-threads',
    version: '1.0.0',
    title: 'Ingest Email Threads',
    description: 'Syncs Gmail threads into the knowledge base and asks a human to triage when nothing new arrived.',
    domain: 'finance',
    owners: ['platform.finance'],
    tags: ['email', 'automation'],
    stability: 'experimental',
  },
  definition: {
    entryStepId: 'sync',
    steps: [
      {
        id: 'sync',
        type: 'automation',
        label: 'Sync Gmail Threads',
        action: { operation: { key: 'pfo.email.sync-threads', version: '1.0.0' } },
        requiredIntegrations: ['emailInbound', 'primaryVectorDb'],
        retry: { maxAttempts: 3, backoff: 'exponential', delayMs: 1_000 },
      },
      { id: 'triage', type: 'human', label: 'Review Threads', description: 'Flag important threads for follow-up.' },
    ],
    transitions: [{ from: 'sync', to: 'triage', condition: 'output?.syncedThreads === 0', label: 'No new threads' }],
  },
});
