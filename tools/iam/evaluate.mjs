// Evaluates AWS requests against identity policies with @cloud-copilot/iam-simulate (IAM's evaluation logic).
// stdin:  {"requests": [{"id", "principal", "action", "resource", "accountId", "context", "policies": [{"name", "policy"}]}]}
// stdout: {"results": [{"id", "decision", "allowedBy": [statement ids], "errors": [...]}]}
import { runSimulation } from '@cloud-copilot/iam-simulate'

async function readStdin() {
  const chunks = []
  for await (const chunk of process.stdin) chunks.push(chunk)
  return JSON.parse(Buffer.concat(chunks).toString('utf8'))
}

async function evaluate(request) {
  const simulation = {
    identityPolicies: request.policies,
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    request: {
      action: request.action,
      principal: request.principal,
      resource: { resource: request.resource, accountId: request.accountId },
      contextVariables: request.context || {}
    }
  }
  const response = await runSimulation(simulation, {})
  if (response.resultType === 'error') {
    return { id: request.id, decision: 'Error', allowedBy: [], errors: [response.errors] }
  }
  const results = response.resultType === 'single' ? [response.result] : response.results
  const allowedBy = results.flatMap((result) =>
    (result?.analysis?.identityAnalysis?.allowStatements || []).map((statement) => ({
      policy: statement.policyId ?? statement.explain?.policyId ?? null,
      statement: statement.explain?.identifier ?? null
    }))
  )
  return { id: request.id, decision: response.overallResult, allowedBy, errors: [] }
}

const input = await readStdin()
const results = []
for (const request of input.requests) results.push(await evaluate(request))
process.stdout.write(JSON.stringify({ results }))
