"""The stack of a stage, every resource declared once: `stack("prod")`.

Three renderers turn this declaration into what their tool reads: `infra.template` (the SAM
merge template for `chalice package` and the resources-only template for `chalice deploy`),
`infra.terraform` (files beside Chalice's Terraform) and `devstack.resources` (boto3 calls
against the emulator). A renderer maps each kind of resource and each property to its syntax and
holds no name, size or setting of its own, so a resource is changed here and nowhere else.

Why our own model and not Chalice's CDK construct (`chalice.cdk`): CDK synthesizes
CloudFormation only. It renders neither Terraform nor the emulator, needs aws-cdk-lib (a 60 MB
wheel) and a Node.js process for every synthesis, and deploys through a bootstrapped account.
The model is plain data that all three renderings, and the tests, read directly.

Chalice itself makes the functions, their roles, the REST API and the worker's event source
mapping; they are declared here too (with the names Chalice gives them) so that their wiring,
the settings Chalice cannot express and the scanner findings we accept are declared once.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Final, Literal

from chalicelib.archive import TTL_IDENTITY
from chalicelib.errors import GATEWAY_REFUSALS, GATEWAY_VARIABLES
from chalicelib.limiter import USAGE_COUNTER_KEY, USAGE_EXPIRY_ATTRIBUTE
from chalicelib.plans import PLANS
from chalicelib.reads import EXPIRY
from infra.alarms import queue_alarms
from infra.dashboard import StackNames, dashboard_body, dashboard_name
from infra.iam import (
    FUNCTIONS,
    REVIEWER_SESSION_SECONDS,
    TENANT_READER,
    deployed_function_name,
    policy_document,
    reader_role_name,
    reader_trust,
    reviewer_policy,
    reviewer_role_name,
    reviewer_trust,
)

if TYPE_CHECKING:
    from chalicelib.config import Settings

#: What one resource can tell another: each renderer maps these to its own syntax.
#: `log_group_arn` is a function's own log group and its streams; `objects_arn` every object of
#: a bucket.
Attribute = Literal[
    "arn", "id", "log_group_arn", "name", "objects_arn", "role_arn", "stream_arn", "url"
]


@dataclass(frozen=True)
class Names:
    """A resource's identity in CloudFormation and in Terraform.

    Renaming one makes that tool replace the deployed resource: a table under a new identity is
    a new, empty table. New resources take `named(...)`; the older ones keep the names they were
    deployed under.
    """

    cloudformation: str
    terraform: str


def named(identity: str) -> Names:
    """A new resource's names: `ArchiveBucket` in CloudFormation, `archive_bucket` in Terraform."""
    return Names(identity, re.sub(r"(?<!^)(?=[A-Z])", "_", identity).lower())


@dataclass(frozen=True)
class Finding:
    """A scanner (checkov) finding accepted on a resource, with why it does not apply."""

    check: str
    reason: str


@dataclass(frozen=True)
class Switch:
    """A choice made at deploy time: a CloudFormation parameter, a Terraform variable."""

    names: Names
    description: str


@dataclass(frozen=True, kw_only=True)
class Resource:
    """What every declared resource has."""

    names: Names
    #: Created only where this switch is on.
    only_if: Switch | None = None
    findings: tuple[Finding, ...] = ()


@dataclass(frozen=True, eq=False)
class Ref:
    """One resource's attribute, as another resource (or an output) refers to it."""

    resource: Resource
    attribute: Attribute


@dataclass(frozen=True)
class Region:
    """The region the stack is deployed in."""


REGION: Final = Region()


@dataclass(frozen=True)
class Account:
    """The account the stack is deployed in, as a principal: its people whose own policy allows."""


ACCOUNT: Final = Account()


@dataclass(frozen=True, kw_only=True)
class Redrive:
    """Where a queue moves a message that was received too often."""

    dead_letter_queue: Queue
    max_receive_count: int


@dataclass(frozen=True, kw_only=True)
class Queue(Resource):
    """An SQS queue; None leaves a setting at the service's default."""

    name: str
    retention_seconds: int
    visibility_timeout_seconds: int | None = None
    max_message_bytes: int | None = None
    #: Server-side encryption with SQS managed keys.
    encrypted: bool = True
    redrive: Redrive | None = None


@dataclass(frozen=True)
class Key:
    """One attribute of a table's primary key."""

    attribute: str
    kind: Literal["HASH", "RANGE"]
    type: Literal["S", "N", "B"] = "S"


@dataclass(frozen=True, kw_only=True)
class Table(Resource):
    """A DynamoDB table."""

    name: str
    keys: tuple[Key, ...]
    billing_mode: Literal["PAY_PER_REQUEST", "PROVISIONED"] = "PAY_PER_REQUEST"
    point_in_time_recovery: bool = True
    #: Encryption at rest with DynamoDB's AWS managed key.
    encrypted: bool = True
    #: Kept when the stack is deleted or the table would be replaced.
    retained: bool = True
    #: The attribute holding an item's expiry (epoch seconds), where DynamoDB's TTL is on.
    ttl_attribute: str | None = None
    #: The table's stream, where it has one.
    stream_view: Literal["KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"] | None = None


@dataclass(frozen=True, kw_only=True)
class Role(Resource):
    """An IAM role; `trusted` is a function's role that assumes it, or the account's people."""

    name: str
    trusted: Ref | Account
    #: Sessions must name one tenant in a session tag (`infra.iam.reader_trust`).
    tenant_tagged: bool = False
    #: The longest session it grants; None keeps IAM's default (an hour).
    max_session_seconds: int | None = None
    policy_name: str
    policy: Mapping[str, Any]

    def trust(
        self, principal: dict[str, Any], condition: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The trust policy, given the trusted principal as the renderer writes it.

        `condition` narrows the principal (a role trusted by ARN before it exists).
        """
        if self.tenant_tagged:
            return reader_trust(principal, condition)
        return reviewer_trust(principal, condition)


#: S3's four public access blocks, by CloudFormation's (and S3's API's) names.
PUBLIC_ACCESS_BLOCKS: Final = (
    "BlockPublicAcls",
    "BlockPublicPolicy",
    "IgnorePublicAcls",
    "RestrictPublicBuckets",
)


@dataclass(frozen=True, kw_only=True)
class Bucket(Resource):
    """An S3 bucket: encrypted, never public, moved to colder storage by a lifecycle rule.

    Named exactly `name` everywhere, as the tables are: the functions, the plain `chalice deploy`
    policies and the operator tools then all know it from the stage's settings. Bucket names
    are global, so a deployment that finds its name taken sets another in the stage's
    `ARCHIVE_BUCKET_NAME`.
    """

    name: str
    #: Server-side encryption (`AES256`: S3 managed keys, no key to administer).
    encryption: str
    #: All four of `PUBLIC_ACCESS_BLOCKS`.
    block_public_access: bool = True
    lifecycle_rule_id: str
    colder_storage_class: str
    transition_days: int
    #: Kept when the stack is deleted or the bucket would be replaced.
    retained: bool = True


@dataclass(frozen=True, kw_only=True)
class Alarm(Resource):
    """A CloudWatch alarm on one metric."""

    name: str
    description: str
    namespace: str
    metric: str
    dimensions: Mapping[str, Ref]
    statistic: str
    period_seconds: int
    evaluation_periods: int
    threshold: int
    comparison: str
    treat_missing_data: str = "notBreaching"


@dataclass(frozen=True, kw_only=True)
class Dashboard(Resource):
    """The operators' CloudWatch dashboard (`infra.dashboard`)."""

    name: str
    settings: Settings
    queue: Ref
    dead_letter_queue: Ref
    #: Each function by its name in app.py.
    functions: Mapping[str, Ref]
    api_name: str
    api_stage: str
    alarms: tuple[Ref, ...]

    def body(self, placeholder: Callable[[Ref | Region], str]) -> str:
        """The body's JSON text, each reference written as `placeholder` gives it."""
        names = StackNames(
            region=placeholder(REGION),
            queue=placeholder(self.queue),
            dead_letter_queue=placeholder(self.dead_letter_queue),
            functions={name: placeholder(ref) for name, ref in self.functions.items()},
            api=self.api_name,
            api_stage=self.api_stage,
            alarm_arns=tuple(placeholder(ref) for ref in self.alarms),
        )
        return json.dumps(dashboard_body(self.settings, names))


@dataclass(frozen=True, kw_only=True)
class Function(Resource):
    """A Lambda function Chalice makes; declared for what Chalice cannot set itself."""

    #: Its name in app.py.
    function_name: str
    #: Its name and its role's name as `chalice deploy` makes them.
    deployed_name: str
    deployed_role_name: str
    #: Chalice's role of the function.
    role: Names
    #: The stage's variables and, by reference, the resources the function uses.
    environment: Mapping[str, str | Ref]
    policy: Mapping[str, Any]
    traced: bool


@dataclass(frozen=True, kw_only=True)
class EventSource(Resource):
    """The event source mapping Chalice makes for an SQS handler, with what Chalice cannot set."""

    function: Function
    queue: Queue
    batch_size: int
    batching_window_seconds: int
    max_concurrency: int
    #: `ReportBatchItemFailures`: Chalice 1.34 cannot set it (chalice issue #2029).
    report_batch_item_failures: bool = True


@dataclass(frozen=True, kw_only=True)
class StreamEventSource(Resource):
    """The event source mapping Chalice makes for a DynamoDB stream handler.

    Chalice sets its batch size and starting position from the decorator; the stream is set by
    reference and the filter here, which Chalice cannot express.
    """

    function: Function
    stream: Ref
    #: Lambda's event filter: only matching records invoke the function.
    filter_pattern: str


@dataclass(frozen=True, kw_only=True)
class RestApi(Resource):
    """Chalice's REST API and its stage."""

    name: str
    stage_name: str
    traced: bool
    #: What API Gateway hands the function in base64, byte for byte, rather than as UTF-8 text.
    binary_media_types: tuple[str, ...]
    #: Where API Gateway finds the key that meters a request against a usage plan: `AUTHORIZER`,
    #: the key authorizer's `usageIdentifierKey`, never a header a client could choose.
    api_key_source: str = "AUTHORIZER"


#: Request bodies API Gateway must pass as they came, beyond the types the app itself declares
#: (which Chalice also uses to base64-encode answers): a gzip- or deflate-encoded JSON body would
#: otherwise be read as UTF-8 text and mangled. The app's answers stay text: Chalice encodes only
#: the types in `app.api.binary_types`.
COMPRESSIBLE_REQUEST_TYPES: Final = ("application/json",)


#: API Gateway's own message about the error, already a quoted JSON string.
API_GATEWAY_MESSAGE: Final = "$context.error.messageString"
#: API Gateway's name of the error (`REQUEST_TOO_LARGE`, ...), made of letters and underscores.
API_GATEWAY_ERROR: Final = "$context.error.responseType"


@dataclass(frozen=True, kw_only=True)
class GatewayResponse(Resource):
    """What API Gateway answers itself, before any function runs, in the API's error shape."""

    api: RestApi
    response_type: str
    #: None keeps API Gateway's status of each error the response type covers.
    status_code: int | None
    code: str
    message: str

    @property
    def template(self) -> str:
        """The response template: JSON once API Gateway substitutes its `$context` variables.

        A gateway response's template is not run by VTL: API Gateway substitutes each variable
        as it is, without escaping. `API_GATEWAY_MESSAGE` is already a JSON string; any other
        variable is written inside quotes and must be JSON-string safe.
        """
        if self.message == API_GATEWAY_MESSAGE:
            code = json.dumps(self.code)
            return f'{{"Code": {code}, "Message": {API_GATEWAY_MESSAGE}}}'
        return json.dumps({"Code": self.code, "Message": self.message})


@dataclass(frozen=True, kw_only=True)
class UsagePlan(Resource):
    """An API Gateway usage plan on the API's stage: the request throttle of one tenants' plan.

    The authorizer names each request's metering key; the operator tool binds a tenant's key to
    its plan's usage plan (`ops/usage_plans.py`). Logs and bytes are counted by the limiter.
    """

    api: RestApi
    name: str
    description: str
    rate_limit: int  # requests a second
    burst_limit: int  # requests


@dataclass(frozen=True)
class Output:
    """A value the deployed stack reports."""

    name: str
    value: Ref
    description: str | None = None
    only_if: Switch | None = None


@dataclass(frozen=True)
class FunctionConfig:
    """What Chalice's configuration says of one function in one stage."""

    stage_variables: Mapping[str, str]
    traced: bool


@dataclass(frozen=True)
class StageConfig:
    """What Chalice's configuration says of one stage."""

    app_name: str
    stage: str
    api_gateway_stage: str
    functions: Mapping[str, FunctionConfig]
    #: `app.api.binary_types`: the media types the app reads and answers in base64.
    binary_types: tuple[str, ...] = ()


@dataclass(frozen=True)
class Stack:
    """Every resource of one stage, in the order a renderer may create them."""

    stage: str
    dead_letter_queue: Queue
    queue: Queue
    logs_table: Table
    tenants_table: Table
    usage_table: Table
    archive: Bucket
    reader_role: Role
    alarms: tuple[Alarm, ...]
    dashboard: Dashboard
    reviewer: Role
    functions: tuple[Function, ...]
    event_source: EventSource
    stream_event_source: StreamEventSource
    api: RestApi
    gateway_responses: tuple[GatewayResponse, ...]
    usage_plans: tuple[UsagePlan, ...]
    switches: tuple[Switch, ...]
    outputs: tuple[Output, ...]
    #: The environment variables that name the stack's resources, in every function.
    wiring: Mapping[str, Ref] = field(default_factory=dict)

    @property
    def resources(self) -> tuple[Resource, ...]:
        """Every resource, those a resource refers to first."""
        return (
            self.dead_letter_queue,
            self.queue,
            self.logs_table,
            self.tenants_table,
            self.usage_table,
            self.archive,
            *self.functions,
            self.reader_role,
            *self.alarms,
            self.dashboard,
            self.reviewer,
            self.event_source,
            self.stream_event_source,
            self.api,
            *self.gateway_responses,
            *self.usage_plans,
        )

    def function(self, function_name: str) -> Function:
        """The function named `function_name` in app.py."""
        [found] = [f for f in self.functions if f.function_name == function_name]
        return found


#: Chalice's names for what it makes; `infra.terraform` checks them against Chalice's template.
_CHALICE_FUNCTIONS: Final = {
    "api_handler": (
        Names("APIHandler", "api_handler"),
        Names("ApiHandlerRole", "api_handler_role"),
    ),
    "api_key_authorizer": (
        Names("ApiKeyAuthorizer", "api_key_authorizer"),
        Names("ApiKeyAuthorizerRole", "api_key_authorizer_role"),
    ),
    "worker": (Names("Worker", "worker"), Names("WorkerRole", "worker_role")),
    "archiver": (Names("Archiver", "archiver"), Names("ArchiverRole", "archiver_role")),
}
_WORKER_EVENT_SOURCE: Final = Names("WorkerSqsEventSource", "worker-sqs-event-source")
_ARCHIVER_EVENT_SOURCE: Final = Names(
    "ArchiverDynamodbEventSource", "archiver-dynamodb-event-source"
)
_REST_API: Final = Names("RestAPI", "rest_api")

_NO_VPC: Final = Finding(
    "CKV_AWS_117",
    "the functions reach only SQS, DynamoDB and S3 over TLS with IAM auth; a VPC would add NAT "
    "or endpoint cost and cold-start latency and protect nothing private",
)
_ENV_NOT_SECRET: Final = Finding(
    "CKV_AWS_173",
    "environment variables hold resource names and tunables, no secrets; Lambda encrypts them "
    "at rest with its AWS managed key",
)
_SYNC_NO_DLQ: Final = Finding(
    "CKV_AWS_116",
    "a function DLQ applies to asynchronous invocations only; this function is invoked "
    "synchronously and its failed records go to the queue's redrive dead-letter queue",
)
_SSE_SQS: Final = Finding(
    "CKV_AWS_27",
    "encrypted at rest with SQS managed keys (SqsManagedSseEnabled); checkov counts only KMS",
)
_API_CONCURRENCY: Final = Finding(
    "CKV_AWS_115",
    "reserving concurrency would cap the API below the account limit and turn bursts into "
    "throttled requests; API Gateway's stage throttling is the place for a limit",
)
_WORKER_CONCURRENCY: Final = Finding(
    "CKV_AWS_115",
    "concurrency is capped by the event source mapping's MaximumConcurrency; reserved "
    "concurrency on an SQS consumer throttles polled batches and pushes healthy records "
    "towards the dead-letter queue",
)
_NO_BACKUPS: Final = Finding(
    "CKV_AWS_28",
    "the limiter's counters expire within a day and are rebuilt from nothing; a backup of them "
    "would restore limits already past",
)
_TABLE_KEY: Final = Finding(
    "CKV_AWS_119",
    "encrypted at rest with DynamoDB's AWS managed KMS key; a customer managed key adds "
    "cost and key administration without a requirement for it",
)
_STREAM_NO_DLQ: Final = Finding(
    "CKV_AWS_116",
    "a stream-triggered function's failed batches are retried by its event source mapping "
    "until the records leave the stream; an on-failure destination would hold the expired "
    "logs' text outside the table's erasure",
)
_ARCHIVER_CONCURRENCY: Final = Finding(
    "CKV_AWS_115",
    "the stream's shards bound its concurrency (one invocation per shard at a time); "
    "reserving concurrency would only throttle archiving behind expiries",
)
_FUNCTION_FINDINGS: Final = {
    "api_handler": (_NO_VPC, _ENV_NOT_SECRET, _SYNC_NO_DLQ, _API_CONCURRENCY),
    "api_key_authorizer": (_NO_VPC, _ENV_NOT_SECRET, _SYNC_NO_DLQ, _API_CONCURRENCY),
    "worker": (_NO_VPC, _ENV_NOT_SECRET, _SYNC_NO_DLQ, _WORKER_CONCURRENCY),
    "archiver": (_NO_VPC, _ENV_NOT_SECRET, _STREAM_NO_DLQ, _ARCHIVER_CONCURRENCY),
}
_ARCHIVE_FINDINGS: Final = (
    Finding(
        "CKV_AWS_18",
        "access logs would need a second bucket of their own; the objects are written only by "
        "the archiver's role, and CloudTrail data events can be turned on per account",
    ),
    Finding(
        "CKV_AWS_21",
        "versioning would keep erased tenants' archives as noncurrent versions, defeating "
        "erasure; objects are written once under names a retried batch reuses",
    ),
)
_API_FINDINGS: Final = (
    Finding(
        "CKV_AWS_76",
        "access logging needs the account-wide API Gateway CloudWatch role, which a fresh "
        "account lacks and this stack must not take over; Lambda logs carry request ids",
    ),
    Finding(
        "CKV_AWS_120",
        "answers are per tenant and must never be served from a shared cache; the "
        "authorizer's verdict per key is what is cached",
    ),
)
#: Accepted on the REST API only in stages without tracing (`"xray": false`).
UNTRACED_API: Final = Finding(
    "CKV_AWS_73",
    "X-Ray tracing is off in this stage (`xray` in .chalice/config.json): a development "
    "stage's traces are not worth their cost; stages that serve tenants trace",
)
#: The stream carries a removed item's old image: what the archiver writes to the bucket.
_LOGS_STREAM_VIEW: Final = "OLD_IMAGE"
#: Lambda's event filter on the stream: only DynamoDB's TTL removals invoke the archiver (which
#: checks again itself, `chalicelib.archive.is_ttl_removal`).
TTL_REMOVALS_PATTERN: Final = json.dumps(
    {"eventName": ["REMOVE"], "userIdentity": {k: [v] for k, v in TTL_IDENTITY.items()}},
    sort_keys=True,
)


def _gateway_responses(api: RestApi) -> tuple[GatewayResponse, ...]:
    """API Gateway's own answers, in the `{"Code", "Message"}` shape of the app's errors.

    The refusals the local server answers alike come from `chalicelib.errors.GATEWAY_REFUSALS`;
    throttling and API Gateway's other errors are the deployed API's alone.
    """

    def response(
        response_type: str, status: int | None, code: str, message: str
    ) -> GatewayResponse:
        identity = "".join(word.title() for word in response_type.split("_")) + "Response"
        return GatewayResponse(
            names=named(identity),
            api=api,
            response_type=response_type,
            status_code=status,
            code=code,
            message=message,
        )

    refusals = tuple(
        response(
            refusal.response_type,
            refusal.status_code,
            refusal.code,
            refusal.message.format_map(GATEWAY_VARIABLES),
        )
        for refusal in GATEWAY_REFUSALS.values()
    )
    return (
        *refusals,
        response("THROTTLED", 429, "TooManyRequestsError", "too many requests: retry later"),
        # Any other refusal or failure of API Gateway's own (a body too large, a timeout...),
        # with its own status, name and message.
        response("DEFAULT_4XX", None, API_GATEWAY_ERROR, API_GATEWAY_MESSAGE),
        response("DEFAULT_5XX", None, API_GATEWAY_ERROR, API_GATEWAY_MESSAGE),
    )


def _queues(settings: Settings) -> tuple[Queue, Queue]:
    """The dead-letter queue, and the ingest queue that redrives to it."""
    dead_letter_queue = Queue(
        names=Names("IngestDeadLetterQueue", "dead_letter_queue"),
        findings=(_SSE_SQS,),
        name=settings.dead_letter_queue_name,
        retention_seconds=settings.dead_letter_retention_seconds,
    )
    queue = Queue(
        names=Names("IngestQueue", "ingest_queue"),
        findings=(_SSE_SQS,),
        name=settings.queue_name,
        retention_seconds=settings.queue_retention_seconds,
        visibility_timeout_seconds=settings.queue_visibility_timeout_seconds,
        max_message_bytes=settings.queue_message_max_bytes,
        redrive=Redrive(
            dead_letter_queue=dead_letter_queue, max_receive_count=settings.max_receive_count
        ),
    )
    return dead_letter_queue, queue


def _tables(settings: Settings) -> tuple[Table, Table, Table]:
    """The logs table (its items expire into its stream), the tenants table, the counters.

    The tenants table holds API keys and tenants' settings; the counters are the limiter's.
    Logs are the product and keys are in use: both tables outlive the stack (`retained`). The
    counters live for a day at most (their TTL) and are rebuilt from nothing: no backups, and
    they go with the stack.
    """
    logs_table = Table(
        names=Names("LogsTable", "logs_table"),
        findings=(_TABLE_KEY,),
        name=settings.table_name,
        keys=(Key("tenant_id", "HASH"), Key("log_id", "RANGE")),
        ttl_attribute=EXPIRY,
        stream_view=_LOGS_STREAM_VIEW,
    )
    tenants_table = Table(
        names=Names("TenantsTable", "tenants_table"),
        findings=(_TABLE_KEY,),
        name=settings.tenants_table_name,
        keys=(Key("key_id", "HASH"),),
    )
    usage_table = Table(
        names=Names("UsageTable", "usage_table"),
        findings=(_TABLE_KEY, _NO_BACKUPS),
        name=settings.usage_table_name,
        keys=(Key(USAGE_COUNTER_KEY, "HASH"),),
        point_in_time_recovery=False,
        retained=False,
        ttl_attribute=USAGE_EXPIRY_ATTRIBUTE,
    )
    return logs_table, tenants_table, usage_table


def _usage_plans(api: RestApi, config: StageConfig) -> tuple[UsagePlan, ...]:
    """A usage plan per plan: its request rate is the plan's log rate (a request is >= 1 log)."""
    return tuple(
        UsagePlan(
            names=named(f"UsagePlan{plan.name.title()}"),
            api=api,
            name=usage_plan_name(config.app_name, config.stage, plan.name),
            description=f"Requests of tenants on plan {plan.describe()}",
            rate_limit=plan.requests_per_second,
            burst_limit=plan.burst_logs,
        )
        for plan in PLANS.values()
    )


def usage_plan_name(app_name: str, stage: str, plan: str) -> str:
    """The usage plan's name, which the operator tool looks tenants' plans up by."""
    return f"{app_name}-{stage}-{plan}"


def _archive(settings: Settings) -> Bucket:
    """Where expired logs go, per tenant (`chalicelib.archive`); archives outlive the stack."""
    return Bucket(
        names=named("ArchiveBucket"),
        findings=_ARCHIVE_FINDINGS,
        name=settings.archive_bucket_name,
        encryption="AES256",
        lifecycle_rule_id="archive-to-colder-storage",
        # Archives are read rarely, and then at once: Glacier Instant Retrieval costs a sixth of
        # Standard to store and still answers in milliseconds.
        colder_storage_class="GLACIER_IR",
        transition_days=30,
    )


def _functions(config: StageConfig) -> list[Function]:
    """Chalice's functions with their stage variables, not yet wired to the resources."""
    prefix = f"{config.app_name}-{config.stage}"
    functions = []
    for function_name in FUNCTIONS:
        names, role = _CHALICE_FUNCTIONS[function_name]
        deployed = deployed_function_name(config.app_name, config.stage, function_name)
        functions.append(
            Function(
                names=names,
                findings=_FUNCTION_FINDINGS[function_name],
                function_name=function_name,
                deployed_name=deployed,
                deployed_role_name=f"{prefix}-{function_name}",
                role=role,
                environment=dict(config.functions[function_name].stage_variables),
                policy={},
                traced=config.functions[function_name].traced,
            )
        )
    return functions


def _alarms(settings: Settings, queue: Queue, dead_letter_queue: Queue) -> tuple[Alarm, ...]:
    """The alarms of `infra.alarms`, on this stack's queues."""
    watched = {"ingest": queue, "dead_letter": dead_letter_queue}
    return tuple(
        Alarm(
            names=Names(f"{alarm.name}Alarm", named(alarm.name).terraform),
            name=f"{watched[alarm.queue].name}-{alarm.name}",
            description=alarm.description,
            namespace="AWS/SQS",
            metric=alarm.metric,
            dimensions={"QueueName": Ref(watched[alarm.queue], "name")},
            statistic=alarm.statistic,
            period_seconds=alarm.period_seconds,
            evaluation_periods=alarm.evaluation_periods,
            threshold=alarm.threshold,
            comparison=alarm.comparison,
        )
        for alarm in queue_alarms(settings)
    )


def _reviewer(settings: Settings, logs_table: Table) -> tuple[Switch, Role]:
    """The optional reviewer: a role that reads the logs table without the original text.

    Assumed for an hour at most by people of the account whose own policy allows it: no user,
    no long-lived key, nothing secret in the stack's outputs or Terraform's state.
    """
    create_reviewer = Switch(
        Names("CreateReviewer", "create_reviewer"),
        "Create a role that can only read the logs table, without originals",
    )
    reviewer = Role(
        names=Names("Reviewer", "reviewer"),
        only_if=create_reviewer,
        name=reviewer_role_name(settings),
        trusted=ACCOUNT,
        max_session_seconds=REVIEWER_SESSION_SECONDS,
        policy_name="ReadLogsTable",
        policy=reviewer_policy(Ref(logs_table, "arn")),
    )
    return create_reviewer, reviewer


def _api(config: StageConfig) -> RestApi:
    """The REST API, traced as Chalice traces the API handler.

    That is the stage's `xray`, unless the API handler's own setting overrides it.
    """
    traced = config.functions["api_handler"].traced
    return RestApi(
        names=_REST_API,
        findings=_API_FINDINGS + (() if traced else (UNTRACED_API,)),
        name=config.app_name,
        stage_name=config.api_gateway_stage,
        traced=traced,
        binary_media_types=tuple(
            dict.fromkeys((*config.binary_types, *COMPRESSIBLE_REQUEST_TYPES))
        ),
    )


def declare(settings: Settings, config: StageConfig) -> Stack:
    """The stack of the stage whose worker runs with `settings`, as Chalice's `config` has it."""
    dead_letter_queue, queue = _queues(settings)
    logs_table, tenants_table, usage_table = _tables(settings)
    archive = _archive(settings)
    # The reader role trusts the API's role and the functions may use the reader role: the
    # functions are declared first and wired once the role exists. A renderer resolves a `Ref`
    # by its resource's names, so the function the role trusts is the wired one.
    unwired = _functions(config)
    reader_role = Role(
        names=Names("TenantReaderRole", TENANT_READER),
        name=reader_role_name(settings),
        trusted=Ref(unwired[FUNCTIONS.index("api_handler")], "role_arn"),
        tenant_tagged=True,
        policy_name="ReadLogsTable",
        policy=policy_document(TENANT_READER, {"table": Ref(logs_table, "arn")}),
    )
    arns = {
        "queue": Ref(queue, "arn"),
        "table": Ref(logs_table, "arn"),
        "tenants_table": Ref(tenants_table, "arn"),
        "usage_table": Ref(usage_table, "arn"),
        "reader_role": Ref(reader_role, "arn"),
        "archive": Ref(archive, "objects_arn"),
        "table_stream": Ref(logs_table, "stream_arn"),
    }
    wiring = {
        "TABLE_NAME": Ref(logs_table, "name"),
        "TENANTS_TABLE_NAME": Ref(tenants_table, "name"),
        "USAGE_TABLE_NAME": Ref(usage_table, "name"),
        "TENANT_READ_ROLE_ARN": Ref(reader_role, "arn"),
        "QUEUE_NAME": Ref(queue, "name"),
        "QUEUE_URL": Ref(queue, "url"),
        "DEAD_LETTER_QUEUE_NAME": Ref(dead_letter_queue, "name"),
        "ARCHIVE_BUCKET_NAME": Ref(archive, "name"),
        "LOGS_STREAM_ARN": Ref(logs_table, "stream_arn"),
    }
    functions = tuple(
        replace(
            function,
            environment={**function.environment, **wiring},
            policy=policy_document(
                function.function_name,
                # Each function writes its own log group only.
                arns | {"logs": Ref(function, "log_group_arn")},
                queue_url_known=True,
                traced=function.traced,
            ),
        )
        for function in unwired
    )
    alarms = _alarms(settings, queue, dead_letter_queue)
    dashboard = Dashboard(
        names=Names("Dashboard", "dashboard"),
        name=dashboard_name(settings),
        settings=settings,
        queue=Ref(queue, "name"),
        dead_letter_queue=Ref(dead_letter_queue, "name"),
        functions={f.function_name: Ref(f, "name") for f in functions},
        # API Gateway names the API after its OpenAPI title, which Chalice makes the app's name.
        api_name=config.app_name,
        api_stage=config.api_gateway_stage,
        alarms=tuple(Ref(alarm, "arn") for alarm in alarms),
    )
    create_reviewer, reviewer = _reviewer(settings, logs_table)
    api = _api(config)
    outputs = (
        Output("IngestQueueUrl", Ref(queue, "url")),
        Output("DeadLetterQueueUrl", Ref(dead_letter_queue, "url")),
        Output("LogsTableName", Ref(logs_table, "name")),
        Output("TenantsTableName", Ref(tenants_table, "name")),
        Output("TenantReaderRoleArn", Ref(reader_role, "arn")),
        Output("LogsStreamArn", Ref(logs_table, "stream_arn")),
        Output("ArchiveBucketName", Ref(archive, "name")),
        Output("DashboardName", Ref(dashboard, "name")),
        Output(
            "ReviewerRoleArn",
            Ref(reviewer, "arn"),
            "The role a reviewer assumes (aws sts assume-role) to read the logs",
            create_reviewer,
        ),
    )
    return Stack(
        stage=config.stage,
        dead_letter_queue=dead_letter_queue,
        queue=queue,
        logs_table=logs_table,
        tenants_table=tenants_table,
        usage_table=usage_table,
        archive=archive,
        reader_role=reader_role,
        alarms=alarms,
        dashboard=dashboard,
        reviewer=reviewer,
        functions=functions,
        event_source=EventSource(
            names=_WORKER_EVENT_SOURCE,
            function=functions[FUNCTIONS.index("worker")],
            queue=queue,
            batch_size=settings.worker_batch_size,
            batching_window_seconds=settings.worker_batching_window_seconds,
            max_concurrency=settings.worker_max_concurrency,
        ),
        stream_event_source=StreamEventSource(
            names=_ARCHIVER_EVENT_SOURCE,
            function=functions[FUNCTIONS.index("archiver")],
            stream=Ref(logs_table, "stream_arn"),
            filter_pattern=TTL_REMOVALS_PATTERN,
        ),
        api=api,
        gateway_responses=_gateway_responses(api),
        usage_plans=_usage_plans(api, config),
        switches=(create_reviewer,),
        outputs=outputs,
        wiring=wiring,
    )


def _stage_config(stage: str) -> StageConfig:
    """Chalice's configuration of `stage`, with each function's variables and tracing."""
    from infra.iam import tracing
    from infra.stage import chalice_config

    api = chalice_config(stage, "api_handler")
    return StageConfig(
        app_name=api.app_name,
        stage=stage,
        api_gateway_stage=api.api_gateway_stage,
        binary_types=tuple(api.chalice_app.api.binary_types),
        functions={
            name: FunctionConfig(
                stage_variables=dict(chalice_config(stage, name).environment_variables),
                traced=tracing(stage, name),
            )
            for name in FUNCTIONS
        },
    )


@functools.cache
def stage_config(stage: str) -> StageConfig:
    """`.chalice/config.json` of `stage`, read once: every rendering of a process reads the same."""
    return _stage_config(stage)


def stack(stage: str) -> Stack:
    """The stack of `stage`, from its worker's settings and Chalice's configuration."""
    from infra.stage import stage_settings

    return declare(stage_settings(stage, "worker"), stage_config(stage))
