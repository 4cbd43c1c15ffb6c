"""An Explanation (agentmesh.v1) as a person reads it, like `agentmesh explain`."""

import json

from google.protobuf import json_format

from agentmesh.v1 import plan_pb2, task_pb2


def short(enum, value: int) -> str:
    """TASK_STATE_COMPLETED -> COMPLETED, STEP_STATE_SUCCEEDED -> SUCCEEDED."""
    return enum.Name(value).split("_STATE_", 1)[-1]


def compact(value) -> str:
    """A JSON value in one line of at most 120 characters."""
    text = json.dumps(json_format.MessageToDict(value))
    return text if len(text) <= 120 else text[:117] + "..."


def target_of(step) -> str:
    kind = step.WhichOneof("target")
    if kind == "tool":
        return f"tool {step.tool.service}#{step.tool.tool}"
    if kind == "agent":
        return f"agent {step.agent.agent} ({step.agent.skill_id})"
    if kind == "llm":
        return f"llm {step.llm.model_alias}"
    return kind or "?"


def render(explanation, indent: str = "") -> list[str]:
    """The plan, each step with its collaborator and why, its attempts and output, and child tasks, recursively."""
    task = explanation.task
    lines = [f"{indent}task {task.id} on {task.agent} ({task.skill_id}): {short(task_pb2.TaskState, task.status.state)}  subject {task.subject}"]
    lines.append(f"{indent}  goal: {explanation.plan.goal or '-'}")
    executions = {e.step_id: e for e in explanation.execution}
    for step in explanation.plan.steps:
        ex = executions.get(step.id)
        state = short(plan_pb2.StepState, ex.state) if ex else "NOT RUN"
        n = len(ex.attempts) if ex else 0
        attempts = f" ({n} attempt{'s' if n > 1 else ''}, {ex.attempts[-1].duration.ToMilliseconds()} ms)" if n else ""
        lines.append(f"{indent}  - {step.id}: {target_of(step)}  {state}{attempts}")
        lines.append(f"{indent}      why: {step.description}")
        for choice in (c for c in explanation.collaborators if c.step_id == step.id and c.address):
            lines.append(f"{indent}      collaborator: {choice.name}@{choice.version} at {choice.address}: {'; '.join(choice.reasons)}")
        if ex and ex.reason:
            lines.append(f"{indent}      reason: {ex.reason}")
        if ex and ex.HasField("output"):
            lines.append(f"{indent}      output: {compact(ex.output)}")
        for child in (c for c in explanation.children if c.step_id == step.id):
            if child.HasField("explanation"):
                lines.extend(render(child.explanation, indent + "      "))
            else:
                lines.append(f"{indent}      child task {child.task.task_id} on {child.task.agent}: NOT AVAILABLE ({child.gap.code}: {child.gap.reason})")
    return lines
