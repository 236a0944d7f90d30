"""Least-privilege IAM policies for each function, written to `.chalice/` for Chalice to use.

Chalice's own policy generation reads only `app.py` and cannot see the AWS calls made in
`chalicelib/`, so it is off (`autogen_policy: false`) and each function's role comes from
`.chalice/policy-<stage>-<function>.json`. Those files are generated from `GRANTS` below by
`python -m infra.iam` (`make policies`); `tests/test_iam.py` proves that the code performs
exactly the granted operations, no fewer and no more.
"""

from __future__ import annotations

import json
from typing import Any, Final

from chalicelib.config import Settings
from chalicelib.tenant_credentials import READ_ACTIONS, table_arn

FUNCTIONS: Final = ("api_handler", "api_key_authorizer", "worker")
#: The role the API assumes, narrowed to one tenant, to read that tenant's logs.
TENANT_READER: Final = "tenant_reader"

#: What each function (and the tenant reader role) may do, to which of the stage's resources.
#: The worker's queue actions are the ones Lambda's event source mapping performs with the
#: worker's role.
GRANTS: Final[dict[str, dict[str, tuple[str, ...]]]] = {
    "api_handler": {
        "queue": ("sqs:GetQueueUrl", "sqs:SendMessage"),
        "reader_role": ("sts:AssumeRole", "sts:TagSession"),
        # `DELETE /logs/{log_id}`: a tombstone, then the log and its original.
        "table": ("dynamodb:DeleteItem", "dynamodb:PutItem"),
    },
    "api_key_authorizer": {"tenants_table": ("dynamodb:GetItem",)},
    "worker": {
        "queue": ("sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"),
        "table": ("dynamodb:ConditionCheckItem", "dynamodb:PutItem"),
    },
    TENANT_READER: {"table": READ_ACTIONS},
}

#: Only needed where the function is not told `QUEUE_URL` (the plain `chalice deploy` path: a
#: queue's URL holds the account id, which no file here may hard-code).
QUEUE_URL_LOOKUP: Final = "sqs:GetQueueUrl"

#: What every Lambda function needs to write its own logs.
LOG_ACTIONS: Final = ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents")
#: What a traced function needs: the Lambda runtime, not our code, sends its X-Ray segments
#: with the function's role. These actions take no resource-level permissions, hence "*".
TRACE_ACTIONS: Final = ("xray:PutTelemetryRecords", "xray:PutTraceSegments")

# Batch operations are authorized by the action of their single-message twin.
_BATCH_ACTIONS: Final = {
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
}
#: A transaction is authorized by the actions of the items it holds: the worker's holds puts
#: and condition checks (`chalicelib.store.put_unless_erased`).
_TRANSACTION_ACTIONS: Final = {
    "dynamodb:TransactWriteItems": ("dynamodb:ConditionCheckItem", "dynamodb:PutItem"),
}


def iam_action(service: str, operation: str) -> str:
    """The IAM action that authorizes an API operation, e.g. `sqs:DeleteMessage`."""
    action = f"{service}:{operation}"
    return _BATCH_ACTIONS.get(action, action)


def iam_actions(service: str, operation: str) -> tuple[str, ...]:
    """Every IAM action an API operation needs: one, or a transaction's item actions."""
    action = iam_action(service, operation)
    return _TRANSACTION_ACTIONS.get(action, (action,))


def reader_role_name(settings: Settings) -> str:
    """The tenant reader role's name: it reads the logs table, so it is named after it."""
    return f"{settings.table_name}-reader"


def resource_arns(settings: Settings) -> dict[str, str]:
    """The stage's resources by name: region and account are the deployment's own."""
    return {
        "queue": f"arn:aws:sqs:*:*:{settings.queue_name}",
        "table": table_arn(settings.table_name),
        "tenants_table": table_arn(settings.tenants_table_name),
        "reader_role": f"arn:aws:iam::*:role/{reader_role_name(settings)}",
    }


def granted_actions(function_name: str, queue_url_known: bool) -> dict[str, tuple[str, ...]]:
    """What `function_name` may do per resource; no URL lookup where `QUEUE_URL` is set."""
    return {
        resource: tuple(a for a in actions if not (queue_url_known and a == QUEUE_URL_LOOKUP))
        for resource, actions in GRANTS[function_name].items()
    }


def tracing(stage: str, function_name: str) -> bool:
    """Whether Chalice runs `function_name` of `stage` with active X-Ray tracing.

    That is the `xray` setting of `.chalice/config.json`, per stage (or per function).
    """
    from infra.stage import chalice_config

    return bool(chalice_config(stage, function_name).xray_enabled)


def policy_document(
    function_name: str, arns: dict[str, Any], queue_url_known: bool = False, traced: bool = False
) -> dict[str, Any]:
    """The IAM policy of one function or role, given resources' ARNs or template references.

    Functions also write their own logs, and their traces where `traced`; the tenant reader
    role runs no code.
    """
    statements: list[dict[str, Any]] = []
    if function_name in FUNCTIONS:
        statements.append(
            {
                "Sid": "WriteOwnLogs",
                "Effect": "Allow",
                "Action": list(LOG_ACTIONS),
                "Resource": "arn:aws:logs:*:*:*",
            }
        )
        if traced:
            statements.append(
                {
                    "Sid": "WriteTraces",
                    "Effect": "Allow",
                    "Action": list(TRACE_ACTIONS),
                    "Resource": "*",
                }
            )
    for resource, actions in granted_actions(function_name, queue_url_known).items():
        statements.append(
            {
                "Sid": "Use" + resource.title().replace("_", ""),
                "Effect": "Allow",
                "Action": list(actions),
                "Resource": arns[resource],
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


#: What the optional read-only reviewer may do: read the logs table and nothing else.
REVIEWER_ACTIONS: Final = (
    "dynamodb:DescribeTable",
    "dynamodb:GetItem",
    "dynamodb:Query",
    "dynamodb:Scan",
)


def reviewer_policy(table_arn: Any) -> dict[str, Any]:
    """The reviewer's policy, given the table's ARN (or a template reference to it)."""
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": list(REVIEWER_ACTIONS), "Resource": table_arn}],
    }


def policy_filename(stage: str, function_name: str) -> str:
    """The file, under `.chalice/`, that config.json names for this function and stage."""
    return f"policy-{stage}-{function_name}.json"


def render(stage: str, function_name: str) -> str:
    """The policy file's text for one function of one stage."""
    from infra.stage import stage_settings

    settings = stage_settings(stage, function_name)
    traced = tracing(stage, function_name)
    document = policy_document(function_name, resource_arns(settings), traced=traced)
    return json.dumps(document, indent=2) + "\n"


def main() -> None:
    """Write every stage's policy files into `.chalice/`."""
    from infra.stage import PROJECT_DIR

    config = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())
    for stage in config["stages"]:
        for function_name in FUNCTIONS:
            path = PROJECT_DIR / ".chalice" / policy_filename(stage, function_name)
            path.write_text(render(stage, function_name))
            print(f"wrote {path.relative_to(PROJECT_DIR)}")


if __name__ == "__main__":
    main()
