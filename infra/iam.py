"""Least-privilege IAM policies for each function, written to `.chalice/` for Chalice to use.

Chalice's own policy generation reads only `app.py` and cannot see the AWS calls made in
`chalicelib/`, so it is off (`autogen_policy: false`) and each function's role comes from
`.chalice/policy-<stage>-<function>.json`. Those files are generated from `GRANTS` below by
`python -m infra.iam` (`make policies`); `tests/test_iam.py` proves that the code performs
exactly the granted operations, no fewer and no more.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from chalicelib.config import Settings
from chalicelib.partitions import ERASED_SUFFIX, ORIGINAL_SUFFIX
from chalicelib.reads import EXPIRY, FIELDS
from chalicelib.tenant_credentials import ERASE_ACTIONS, READ_ACTIONS, TENANT_TAG

FUNCTIONS: Final = ("api_handler", "api_key_authorizer", "worker", "archiver")
#: The role the API assumes, narrowed to one tenant, to read that tenant's logs.
TENANT_READER: Final = "tenant_reader"

#: What each function (and the tenant reader role) may do, to which of the stage's resources.
#: The worker's queue actions are the ones Lambda's event source mapping performs with the
#: worker's role.
GRANTS: Final[dict[str, dict[str, tuple[str, ...]]]] = {
    "api_handler": {
        "queue": ("sqs:GetQueueUrl", "sqs:SendMessage"),
        "reader_role": ("sts:AssumeRole", "sts:TagSession"),
        "tenants_table": ("dynamodb:GetItem",),
        "usage_table": ("dynamodb:UpdateItem",),
    },
    "api_key_authorizer": {"tenants_table": ("dynamodb:GetItem",)},
    "worker": {
        "queue": ("sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"),
        "table": ("dynamodb:ConditionCheckItem", "dynamodb:PutItem"),
        "tenants_table": ("dynamodb:GetItem",),
    },
    # The stream actions are the ones Lambda's event source mapping performs with its role.
    "archiver": {
        "archive": ("s3:PutObject",),
        "table_stream": (
            "dynamodb:DescribeStream",
            "dynamodb:GetRecords",
            "dynamodb:GetShardIterator",
            "dynamodb:ListStreams",
        ),
    },
    TENANT_READER: {"table": READ_ACTIONS + ERASE_ACTIONS},
}

#: Only needed where the function is not told `QUEUE_URL` (the plain `chalice deploy` path: a
#: queue's URL holds the account id, which no file here may hard-code).
QUEUE_URL_LOOKUP: Final = "sqs:GetQueueUrl"

#: What every Lambda function needs to write its own logs, to its own log group only.
LOG_ACTIONS: Final = ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents")
#: The attributes a tenant's read credentials may touch: what the API answers and the expiry
#: it filters on, never `original_text` (in another partition anyway, `chalicelib.partitions`).
READABLE_ATTRIBUTES: Final = tuple(sorted((*FIELDS, EXPIRY)))
#: The attributes of an erasure's tombstone, the only item a tenant's credentials may write.
TOMBSTONE_ATTRIBUTES: Final = ("erased_at", "expires_at", "log_id", "tenant_id")
#: The attributes the reviewer may read: every stored one but the original text.
REVIEWABLE_ATTRIBUTES: Final = tuple(
    sorted({*FIELDS, "attempt", "worker_id", "expires_at", "erased_at", "archive"})
)
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


def iam_actions(
    service: str, operation: str, params: Mapping[str, Any] | None = None
) -> tuple[str, ...]:
    """Every IAM action an API call needs.

    One action, or a transaction's item actions, and `sts:TagSession` for an `AssumeRole`
    that passes session tags.
    """
    action = iam_action(service, operation)
    if action == "sts:AssumeRole" and (params or {}).get("Tags"):
        return (action, "sts:TagSession")
    return _TRANSACTION_ACTIONS.get(action, (action,))


def reader_role_name(settings: Settings) -> str:
    """The tenant reader role's name: it reads the logs table, so it is named after it."""
    return f"{settings.table_name}-reader"


def reviewer_role_name(settings: Settings) -> str:
    """The reviewer role's name, after the table it reads."""
    return f"{settings.table_name}-reviewer"


def deployed_function_name(app_name: str, stage: str, function_name: str) -> str:
    """A function's name as Chalice deploys it: the API handler's has no suffix."""
    prefix = f"{app_name}-{stage}"
    return prefix if function_name == "api_handler" else f"{prefix}-{function_name}"


def log_group_arn(region: str, account: str, function: str) -> str:
    """The ARN covering a Lambda function's own log group and its streams."""
    return f"arn:aws:logs:{region}:{account}:log-group:/aws/lambda/{function}:*"


def resource_arns(settings: Settings, region: str, account: str) -> dict[str, str]:
    """The stage's resources by name, in the stage's account and region."""

    def table(name: str) -> str:
        return f"arn:aws:dynamodb:{region}:{account}:table/{name}"

    return {
        "queue": f"arn:aws:sqs:{region}:{account}:{settings.queue_name}",
        "table": table(settings.table_name),
        "table_stream": table(settings.table_name) + "/stream/*",
        "archive": f"arn:aws:s3:::{settings.archive_bucket_name}/*",
        "tenants_table": table(settings.tenants_table_name),
        "usage_table": table(settings.usage_table_name),
        "reader_role": f"arn:aws:iam::{account}:role/{reader_role_name(settings)}",
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

    Functions also write their own logs (`arns["logs"]`, their own log group), and their traces
    where `traced`; the tenant reader role runs no code, and reads one tenant only.
    """
    if function_name == TENANT_READER:
        return reader_policy(arns["table"])
    statements: list[dict[str, Any]] = []
    if function_name in FUNCTIONS:
        statements.append(
            {
                "Sid": "WriteOwnLogs",
                "Effect": "Allow",
                "Action": list(LOG_ACTIONS),
                "Resource": arns["logs"],
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


def _only_attributes(attributes: tuple[str, ...]) -> dict[str, Any]:
    """Conditions that admit only requests naming `attributes`, never the whole item.

    `dynamodb:Select` is absent from a GetItem, hence `IfExists`, as AWS's own example has it;
    a GetItem still names its attributes (`ForAllValues` over `dynamodb:Attributes`).
    """
    return {
        "ForAllValues:StringEquals": {"dynamodb:Attributes": list(attributes)},
        "StringEqualsIfExists": {"dynamodb:Select": "SPECIFIC_ATTRIBUTES"},
    }


def _one_tenant(partitions: list[str], **conditions: dict[str, Any]) -> dict[str, Any]:
    """Conditions admitting only requests whose partition keys are all among `partitions`.

    `ForAllValues` holds vacuously for a request without partition keys (a Scan), so the
    `Null` guard refuses any request that names none, and any session without the tag.
    """
    all_of = {"dynamodb:LeadingKeys": partitions, **conditions.pop("ForAllValues", {})}
    return {
        **conditions,
        "ForAllValues:StringEquals": all_of,
        "Null": {"dynamodb:LeadingKeys": "false", f"aws:PrincipalTag/{TENANT_TAG}": "false"},
    }


def reader_policy(table_arn: Any) -> dict[str, Any]:
    """The tenant role's own policy: read, and erase, the session's tenant's logs only.

    The tenant comes from the session tag the API sets when it assumes the role
    (`chalicelib.tenant_credentials`). Reads reach the tenant's own partition and the API's
    attributes only. Erasure (`chalicelib.erasure`) may delete from the tenant's log and
    original partitions without reading what it deletes (`ReturnValues` NONE), and write a
    tombstone's attributes in its erasure partition, nothing else.
    """
    tenant = f"${{aws:PrincipalTag/{TENANT_TAG}}}"
    read = _only_attributes(READABLE_ATTRIBUTES)
    blind = {"StringEqualsIfExists": {"dynamodb:ReturnValues": "NONE"}}
    tombstone = {"dynamodb:Attributes": list(TOMBSTONE_ATTRIBUTES)}
    statements = [
        (
            "ReadOneTenant",
            list(READ_ACTIONS),
            _one_tenant(
                [tenant],
                ForAllValues=read["ForAllValues:StringEquals"],
                StringEqualsIfExists=read["StringEqualsIfExists"],
            ),
        ),
        (
            "EraseOneTenantsLogs",
            ["dynamodb:DeleteItem"],
            _one_tenant([tenant, tenant + ORIGINAL_SUFFIX], **blind),
        ),
        (
            "MarkOneTenantsErasures",
            ["dynamodb:PutItem"],
            _one_tenant([tenant + ERASED_SUFFIX], ForAllValues=tombstone, **blind),
        ),
    ]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": sid,
                "Effect": "Allow",
                "Action": actions,
                "Resource": table_arn,
                "Condition": condition,
            }
            for sid, actions, condition in statements
        ],
    }


def reader_trust(principal: Any, condition: dict[str, Any] | None = None) -> dict[str, Any]:
    """Who may assume the reader role: `principal`, only naming one tenant in a session tag.

    `condition` narrows the principal further (the plain `chalice deploy` path trusts the
    account and names the API's role by ARN, as the role does not exist yet).
    """
    tagged = {
        "StringLike": {f"aws:RequestTag/{TENANT_TAG}": "?*"},
        "ForAllValues:StringEquals": {"aws:TagKeys": [TENANT_TAG]},
        **(condition or {}),
    }
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": f"AssumeFor{action.title()}",
                "Effect": "Allow",
                "Principal": principal,
                "Action": f"sts:{action}",
                "Condition": tagged,
            }
            for action in ("AssumeRole", "TagSession")
        ],
    }


#: What the optional reviewer may do: read the logs table, without the original text.
REVIEWER_ACTIONS: Final = (
    "dynamodb:DescribeTable",
    "dynamodb:GetItem",
    "dynamodb:Query",
    "dynamodb:Scan",
)
#: A reviewer's session lasts an hour at most; the credentials die with it.
REVIEWER_SESSION_SECONDS: Final = 3600


def reviewer_policy(table_arn: Any) -> dict[str, Any]:
    """The reviewer role's policy, given the table's ARN (or a template reference to it)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DescribeTable",
                "Effect": "Allow",
                "Action": "dynamodb:DescribeTable",
                "Resource": table_arn,
            },
            {
                "Sid": "ReadWithoutOriginals",
                "Effect": "Allow",
                "Action": [a for a in REVIEWER_ACTIONS if a != "dynamodb:DescribeTable"],
                "Resource": table_arn,
                "Condition": _only_attributes(REVIEWABLE_ATTRIBUTES),
            },
        ],
    }


def reviewer_trust(principal: Any, condition: dict[str, Any] | None = None) -> dict[str, Any]:
    """Who may assume the reviewer role: `principal`, narrowed by `condition` where given.

    The principal is the account: its people whose own policy lets them assume the role.
    """
    statement = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
    if condition:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


def policy_filename(stage: str, function_name: str) -> str:
    """The file, under `.chalice/`, that config.json names for this function and stage."""
    return f"policy-{stage}-{function_name}.json"


def render(stage: str, function_name: str) -> str:
    """The policy file's text for one function of one stage, in the stage's account and region.

    The files are static JSON that `chalice deploy` reads as they are, so the account and
    region come from the stage's `aws_account_id` and `aws_region` in `.chalice/config.json`.
    """
    from infra.stage import chalice_config, deployment_target, stage_settings

    settings = stage_settings(stage, function_name)
    region, account = deployment_target(stage)
    app_name = chalice_config(stage, function_name).app_name
    function = deployed_function_name(app_name, stage, function_name)
    arns = resource_arns(settings, region, account) | {
        "logs": log_group_arn(region, account, function)
    }
    traced = tracing(stage, function_name)
    document = policy_document(function_name, arns, traced=traced)
    return json.dumps(document, indent=2) + "\n"


def main() -> None:
    """Write every stage's policy files into `.chalice/`."""
    from infra.stage import PROJECT_DIR, deployed_stages

    for stage in deployed_stages():
        for function_name in FUNCTIONS:
            path = PROJECT_DIR / ".chalice" / policy_filename(stage, function_name)
            path.write_text(render(stage, function_name))
            print(f"wrote {path.relative_to(PROJECT_DIR)}")


if __name__ == "__main__":
    main()
