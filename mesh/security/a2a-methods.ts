/** The A2A v1.0 gRPC service every agent serves beside AgentService. */
export const A2A_SERVICE = 'lf.a2a.v1.A2AService';
const AGENT_SERVICE = 'agentmesh.v1.AgentService';

/**
 * Which AgentService method grants each A2A method: an A2A call is allowed
 * exactly when the policy allows the AgentService call it maps to, so one
 * policy decides both bindings and they cannot drift. Push-notification
 * configs are never supported (they answer PUSH_NOTIFICATION_NOT_SUPPORTED);
 * whoever may read the card may hear that.
 */
export const A2A_GRANTED_BY: Readonly<Record<string, string>> = {
  SendMessage: 'SendTask',
  SendStreamingMessage: 'StreamTask',
  GetTask: 'GetTask',
  ListTasks: 'ListTasks',
  CancelTask: 'CancelTask',
  SubscribeToTask: 'SubscribeTask',
  GetExtendedAgentCard: 'GetAgentCard',
  CreateTaskPushNotificationConfig: 'GetAgentCard',
  GetTaskPushNotificationConfig: 'GetAgentCard',
  ListTaskPushNotificationConfigs: 'GetAgentCard',
  DeleteTaskPushNotificationConfig: 'GetAgentCard',
};

/**
 * A rule's methods with the A2A methods they grant added (after the ones
 * given, each once): `AgentService/*` adds `A2AService/*`, `AgentService/SendTask`
 * adds `A2AService/SendMessage`, and so on.
 */
export function withA2aMethods(methods: readonly string[]): string[] {
  const out = [...methods];
  const add = (m: string) => out.includes(m) || out.push(m);
  for (const m of methods) {
    if (m === `${AGENT_SERVICE}/*`) add(`${A2A_SERVICE}/*`);
    else if (m.startsWith(`${AGENT_SERVICE}/`)) {
      const agentMethod = m.slice(AGENT_SERVICE.length + 1);
      for (const [a2a, granting] of Object.entries(A2A_GRANTED_BY))
        if (granting === agentMethod) add(`${A2A_SERVICE}/${a2a}`);
    }
  }
  return out;
}
