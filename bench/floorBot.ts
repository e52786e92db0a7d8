/**
 * The floor of the HTTP benchmarks: the product's stack — restify 11 with the same body parser, botbuilder's
 * CloudAdapter with the same (local-mode) authentication, a TeamsActivityHandler — and an empty handler that answers
 * with a prepared card. The cards are the ones the real bot answered with in the same run (FLOOR_CARDS, a JSON file
 * { "<verb>" | "text:<typed text>" | "message": card }), so both sides send the same bytes; whatever the bot costs on
 * top of this is the product's own work. Started like the bot: `node --import tsx bench/floorBot.ts`, PORT and HOST.
 *
 * With FLOOR_REDIS_URL set it is row 1's second reference: before answering an invoke it makes one Redis round trip
 * (a no-op EVALSHA through ioredis with the product's client options), the least any design can do that checks the
 * data against Redis once per request.
 */
import { readFileSync } from 'node:fs';
import { CardFactory, CloudAdapter, ConfigurationBotFrameworkAuthentication, InvokeResponse, TeamsActivityHandler, TurnContext } from 'botbuilder';
import Redis from 'ioredis';
import * as restify from 'restify';
import { REDIS_COMMAND_TIMEOUT_MS } from '../services/store/redis';

const cards = JSON.parse(readFileSync(String(process.env.FLOOR_CARDS), 'utf8')) as Record<string, unknown>;
const ADAPTIVE_CARD = 'application/vnd.microsoft.card.adaptive';
const redis = process.env.FLOOR_REDIS_URL ? new Redis(process.env.FLOOR_REDIS_URL, { maxRetriesPerRequest: 2, commandTimeout: REDIS_COMMAND_TIMEOUT_MS }) : undefined;
const noOp = redis?.script('LOAD', 'return 1') as Promise<string> | undefined;

class FloorBot extends TeamsActivityHandler {
  constructor() {
    super();
    this.onMessage(async (context, next) => {
      await context.sendActivity({ type: 'message', attachments: [CardFactory.adaptiveCard(cards.message)] });
      await next();
    });
  }

  protected override async onInvokeActivity(context: TurnContext): Promise<InvokeResponse> {
    const action = (context.activity.value as { action?: { verb?: string; data?: { text?: string } } } | undefined)?.action;
    const key = action?.verb === 'runCommand' ? `text:${action.data?.text}` : String(action?.verb);
    if (redis && noOp) await redis.evalsha(await noOp, 0);
    return { status: 200, body: { statusCode: 200, type: ADAPTIVE_CARD, value: cards[key] ?? cards.users } };
  }
}

const auth = new ConfigurationBotFrameworkAuthentication({ MicrosoftAppId: '', MicrosoftAppPassword: '', MicrosoftAppType: 'MultiTenant', MicrosoftAppTenantId: '' });
const adapter = new CloudAdapter(auth);
const bot = new FloorBot();
const server = restify.createServer({ name: 'floor-bot' });
server.use(restify.plugins.bodyParser({ maxBodySize: 2 * 1024 * 1024 }));
server.post('/api/messages', async (req, res) => {
  await adapter.process(req, res, (context) => bot.run(context));
});
server.get('/healthz', async (_req, res) => {
  res.json(200, { status: 'ok' });
});
server.listen(Number(process.env.PORT), String(process.env.HOST ?? '127.0.0.1'));
process.once('SIGTERM', () => server.close(() => process.exit(0)));
