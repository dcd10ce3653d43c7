/**
 * The cold-start floor (bench/cold-start.ts): an otherwise empty Lambda that makes one DynamoDB call, bundled like
 * every deployed handler. A real handler cannot be smaller or import faster than this, so its ratio to the floor says
 * how much our own code and the other clients cost. Never deployed.
 */
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';

const client = new DynamoDBClient({});

export const handler = async (event: { tableName: string; key: string }) =>
  client.send(new GetItemCommand({ TableName: event.tableName, Key: { pk: { S: event.key } } }));
