"""Send a task to an agent of a running agentmesh, follow it, and print its explanation.

    /usr/bin/python3 examples/python/send_task.py lending/loan-orchestrator --example 1
    /usr/bin/python3 examples/python/send_task.py lending/loan-orchestrator \
        '{"customerId": "C-1001", "amount": 5000, "currency": "EUR", "termMonths": 36}'

What `agentmesh task` and `agentmesh explain` do, with the Python SDK buf
generates from the same protos (gen/python). --without-client-certificate and
--without-token show the mesh refusing such callers. Exit codes: 0 when the
task completed or waits for a person, 1 when it did not complete or a call
was refused (one line on stderr), 2 for usage errors.
"""

import argparse
import json
import sys
import uuid

# mesh_client first: it quiets gRPC's C core before grpc loads and puts the SDK (gen/python) on the path.
from mesh_client import Mesh, MeshError, mesh_file_path

import grpc
from google.protobuf import json_format
from agentmesh.v1 import agent_service_pb2 as api
from agentmesh.v1 import agent_service_pb2_grpc, plan_pb2, task_pb2
from explain_view import render, short

SCOPES = ["task.read", "task.write"]


def parse_args():
    parser = argparse.ArgumentParser(prog="send_task.py", description="Send a task to an agentmesh agent and explain it.")
    parser.add_argument("agent", help="the agent, namespace/name")
    parser.add_argument("input", nargs="?", help="the input as JSON (or use --example)")
    parser.add_argument("--example", type=int, metavar="N", help="the N-th example of the skill's card (from GetAgentCard)")
    parser.add_argument("--skill", default="", help="the skill id (default: the agent's first skill with --example, else the agent chooses)")
    parser.add_argument("--timeout", type=float, default=120, help="seconds to wait for the task (default 120)")
    parser.add_argument("--without-client-certificate", action="store_true", help="connect without a client certificate (the mesh refuses)")
    parser.add_argument("--without-token", action="store_true", help="call without an access token (the mesh refuses)")
    args = parser.parse_args()
    if (args.input is None) == (args.example is None):
        parser.error("give the input as JSON or --example N")
    try:
        args.data = None if args.input is None else json.loads(args.input)
    except json.JSONDecodeError as err:
        parser.error(f"the input is not JSON: {err}")
    return args


def example_input(stub, metadata, skill_id: str, n: int):
    """The skill id and the input of the card's n-th example."""
    card = stub.GetAgentCard(api.GetAgentCardRequest(), metadata=metadata, timeout=10).card
    skill = next((s for s in card.skills if s.id == skill_id), None) if skill_id else (card.skills[0] if card.skills else None)
    if skill is None or not 1 <= n <= len(skill.examples):
        raise MeshError(f"{card.name} has no example {n}{f' for skill {skill_id}' if skill_id else ''}")
    return skill.id, json_format.MessageToDict(skill.examples[n - 1].input)


def follow(events) -> str:
    """Prints the plan and steps as they happen; returns the task id."""
    task_id = ""
    for response in events:
        event = response.event
        task_id = task_id or event.task_id
        kind = event.WhichOneof("event")
        if kind == "plan_created":
            print(f"plan {event.plan_created.plan.plan_id}: {' -> '.join(s.id for s in event.plan_created.plan.steps)}")
        elif kind == "step_started":
            print(f"  > {event.step_started.step_id} started")
        elif kind == "step_finished":
            done = event.step_finished
            print(f"  = {done.step_id} {short(plan_pb2.StepState, done.state).lower()}{f': {done.reason}' if done.reason else ''}")
        elif kind == "status_update":
            print(f"task {task_id}: {short(task_pb2.TaskState, event.status_update.status.state)}")
    return task_id


def run(args) -> int:
    mesh = Mesh(mesh_file_path())
    with mesh.channel(args.agent, client_certificate=not args.without_client_certificate) as channel:
        metadata = [] if args.without_token else [("authorization", f"Bearer {mesh.token(args.agent, SCOPES)}")]
        stub = agent_service_pb2_grpc.AgentServiceStub(channel)
        skill_id, data = example_input(stub, metadata, args.skill, args.example) if args.example else (args.skill, args.data)
        message = task_pb2.Message(message_id=str(uuid.uuid4()), role=task_pb2.ROLE_USER, parts=[task_pb2.Part(data=json_format.ParseDict(data, task_pb2.Part().data))])
        task_id = follow(stub.StreamTask(api.StreamTaskRequest(request_id=str(uuid.uuid4()), skill_id=skill_id, message=message), metadata=metadata, timeout=args.timeout))
        task = stub.GetTask(api.GetTaskRequest(task_id=task_id), metadata=metadata, timeout=10).task
        state = task.status.state
        if state == task_pb2.TASK_STATE_COMPLETED:
            print(f"result: {json.dumps(json_format.MessageToDict(task.artifacts[0].parts[0].data))}")
        elif state == task_pb2.TASK_STATE_INPUT_REQUIRED:
            question = task.status.input_request
            print(f"task {task_id} waits for a person: {question.prompt} ({' / '.join(question.choices)})")
        explanation = stub.ExplainTask(api.ExplainTaskRequest(task_id=task_id), metadata=metadata, timeout=30).explanation
        print("explanation:")
        print("\n".join(render(explanation, "  ")))
        return 0 if state in (task_pb2.TASK_STATE_COMPLETED, task_pb2.TASK_STATE_INPUT_REQUIRED) else 1


def main() -> int:
    args = parse_args()
    try:
        return run(args)
    except grpc.RpcError as err:
        print(f"send_task: {args.agent}: {err.code().name}: {err.details()}", file=sys.stderr)
    except MeshError as err:
        print(f"send_task: {err}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
