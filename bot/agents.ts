import type { RedisClient } from '../services/store/redis';
import type { KeyLayout } from '../services/store/keys';

/** Bot roles of the partner's staff (SPEC §5). */
export const AGENT_ROLES = ['admin', 'helpdesk'] as const;
export type AgentRole = (typeof AGENT_ROLES)[number];
export type CallerRole = AgentRole | 'none';

/** Who may run a command: everyone (help, whoami), helpdesk agents and up, or admin agents only. */
export type Access = 'everyone' | 'helpdesk' | 'admin';

export function mayRun(role: CallerRole, access: Access): boolean {
  if (access === 'everyone') return true;
  if (access === 'helpdesk') return role === 'admin' || role === 'helpdesk';
  return role === 'admin';
}

export interface AgentRoleSettings {
  adminAgents: string[];
  helpdeskAgents: string[];
  /** Local mode with no agents configured: everyone is an admin agent, so the playground just works. */
  everyoneIsAdmin: boolean;
}

/**
 * Roles come from the environment (fixed) and from a Redis hash that admin agents change with
 * `grant` / `revoke`. The environment wins: a configured admin cannot be revoked from chat.
 */
export class AgentRoles {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: KeyLayout,
    private readonly settings: AgentRoleSettings,
  ) {}

  async roleOf(agentId: string): Promise<CallerRole> {
    const id = agentId.toLowerCase();
    if (this.settings.everyoneIsAdmin) return 'admin';
    if (this.settings.adminAgents.some((a) => a.toLowerCase() === id)) return 'admin';
    if (this.settings.helpdeskAgents.some((a) => a.toLowerCase() === id)) return 'helpdesk';
    const stored = await this.redis.hget(this.keys.agentRoles(), id);
    return stored === 'admin' || stored === 'helpdesk' ? stored : 'none';
  }

  isFixed(agentId: string): boolean {
    const id = agentId.toLowerCase();
    return [...this.settings.adminAgents, ...this.settings.helpdeskAgents].some((a) => a.toLowerCase() === id);
  }

  async grant(agentId: string, role: AgentRole): Promise<void> {
    await this.redis.hset(this.keys.agentRoles(), agentId.toLowerCase(), role);
  }

  async revoke(agentId: string): Promise<boolean> {
    return (await this.redis.hdel(this.keys.agentRoles(), agentId.toLowerCase())) > 0;
  }
}
