"""The stage as one CloudFormation (SAM) stack: `python -m infra.template --stage prod`.

Renders `infra.model`'s declaration into the merge template of `chalice package`, which adds the
queues, tables, archive bucket, reader role, alarms, dashboard, optional reviewer role and
outputs to Chalice's own template; names the functions and points their environment, roles and
event source mappings at those resources by reference; filters the archiver's stream to TTL
removals; turns on `ReportBatchItemFailures`, which Chalice 1.34 cannot (chalice issue #2029);
traces the REST API where the stage traces its functions; and adds API Gateway's own answers in
our error shape. `--resources-only` renders the same resources alone for the plain
`chalice deploy` path. Names, sizes and settings all come from the model: this module only says
how CloudFormation writes them.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

from infra.chalice_cli import chalice_package
from infra.model import (
    PUBLIC_ACCESS_BLOCKS,
    Account,
    Alarm,
    Bucket,
    Dashboard,
    Function,
    GatewayResponse,
    Queue,
    Ref,
    Region,
    Resource,
    RestApi,
    Role,
    Stack,
    Switch,
    Table,
    UsagePlan,
    stack,
)

#: The CloudFormation type of each kind of resource this template adds.
TYPES: Final[Mapping[type[Resource], str]] = {
    Queue: "AWS::SQS::Queue",
    Table: "AWS::DynamoDB::Table",
    Role: "AWS::IAM::Role",
    Alarm: "AWS::CloudWatch::Alarm",
    Dashboard: "AWS::CloudWatch::Dashboard",
    Bucket: "AWS::S3::Bucket",
    UsagePlan: "AWS::ApiGateway::UsagePlan",
}
#: How each attribute is read: a `Fn::GetAtt` attribute, or None for the resource's `Ref`.
_ATTRIBUTES: Final[Mapping[tuple[type[Resource], str], str | None]] = {
    (Queue, "arn"): "Arn",
    (Queue, "name"): "QueueName",
    (Queue, "url"): None,
    (Table, "arn"): "Arn",
    (Table, "name"): None,
    (Table, "stream_arn"): "StreamArn",
    (Role, "arn"): "Arn",
    (Alarm, "arn"): "Arn",
    (Dashboard, "name"): None,
    (Function, "name"): None,
    (Bucket, "name"): None,
    (Bucket, "arn"): "Arn",
}
_ROOT: Final = "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"


def _role_arn(role_name: str) -> dict[str, str]:
    return {"Fn::Sub": f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{role_name}"}


class _Renderer:
    """References in CloudFormation's syntax; `with_functions`: Chalice's resources are in it."""

    def __init__(self, with_functions: bool) -> None:
        self.with_functions = with_functions

    def attribute(self, ref: Ref) -> tuple[str, str | None]:
        """The logical id and `Fn::GetAtt` attribute (None: `Ref`) that `ref` reads."""
        resource = ref.resource
        if isinstance(resource, Function) and ref.attribute == "role_arn":
            return resource.role.cloudformation, "Arn"
        return resource.names.cloudformation, _ATTRIBUTES[type(resource), ref.attribute]

    def value(self, ref: Ref) -> Any:
        """`ref` as an intrinsic function, or a function's name where Chalice makes it later."""
        resource = ref.resource
        if isinstance(resource, Function) and ref.attribute == "log_group_arn":
            # By the function's name (`_function` sets it): a reference would be circular.
            return {
                "Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:"
                f"log-group:/aws/lambda/{resource.deployed_name}:*"
            }
        if isinstance(resource, Function) and not self.with_functions:
            return resource.deployed_name
        if isinstance(resource, Bucket) and ref.attribute == "objects_arn":
            return {"Fn::Sub": f"${{{resource.names.cloudformation}.Arn}}/*"}
        logical_id, attribute = self.attribute(ref)
        return {"Ref": logical_id} if attribute is None else {"Fn::GetAtt": [logical_id, attribute]}

    def placeholder(self, ref: Ref | Region) -> str:
        """`ref` inside an `Fn::Sub` text."""
        if isinstance(ref, Region):
            return "${AWS::Region}"
        if isinstance(ref.resource, Function) and not self.with_functions:
            return ref.resource.deployed_name
        logical_id, attribute = self.attribute(ref)
        return f"${{{logical_id}}}" if attribute is None else f"${{{logical_id}.{attribute}}}"

    def resolve(self, value: Any, ref: Callable[[Ref], Any] | None = None) -> Any:
        """`value` with every `Ref` in it written by `ref` (by default as an intrinsic)."""
        if isinstance(value, Ref):
            return (ref or self.value)(value)
        if isinstance(value, Mapping):
            return {key: self.resolve(item, ref) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.resolve(item, ref) for item in value]
        return value

    def trust(self, role: Role) -> dict[str, Any]:
        """A role's trust policy: its principal by reference, or by name before it exists."""
        trusted = role.trusted
        if isinstance(trusted, Account):
            return role.trust({"AWS": {"Fn::Sub": _ROOT}})
        if isinstance(trusted.resource, Function) and not self.with_functions:
            # A principal must exist when the policy is made: until `chalice deploy` makes the
            # function's role, trust the account, narrowed to that role's ARN.
            role_arn = _role_arn(trusted.resource.deployed_role_name)
            return role.trust(
                {"AWS": {"Fn::Sub": _ROOT}}, {"ArnEquals": {"aws:PrincipalArn": role_arn}}
            )
        return role.trust({"AWS": self.value(trusted)})


def _scan_metadata(resource: Resource) -> dict[str, Any]:
    if not resource.findings:
        return {}
    skips = [{"id": finding.check, "comment": finding.reason} for finding in resource.findings]
    return {"Metadata": {"checkov": {"skip": skips}}}


def _queue(queue: Queue, render: _Renderer) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "QueueName": queue.name,
        "MessageRetentionPeriod": queue.retention_seconds,
        "SqsManagedSseEnabled": queue.encrypted,
    }
    if queue.visibility_timeout_seconds is not None:
        properties["VisibilityTimeout"] = queue.visibility_timeout_seconds
    if queue.max_message_bytes is not None:
        properties["MaximumMessageSize"] = queue.max_message_bytes
    if queue.redrive is not None:
        properties["RedrivePolicy"] = {
            "deadLetterTargetArn": render.value(Ref(queue.redrive.dead_letter_queue, "arn")),
            "maxReceiveCount": queue.redrive.max_receive_count,
        }
    return {"Properties": properties}


def _table(table: Table, render: _Renderer) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "TableName": table.name,
        "BillingMode": table.billing_mode,
        "AttributeDefinitions": [
            {"AttributeName": key.attribute, "AttributeType": key.type} for key in table.keys
        ],
        "KeySchema": [{"AttributeName": key.attribute, "KeyType": key.kind} for key in table.keys],
        "PointInTimeRecoverySpecification": {
            "PointInTimeRecoveryEnabled": table.point_in_time_recovery
        },
        "SSESpecification": {"SSEEnabled": table.encrypted},
    }
    if table.ttl_attribute is not None:
        properties["TimeToLiveSpecification"] = {
            "AttributeName": table.ttl_attribute,
            "Enabled": True,
        }
    if table.stream_view is not None:
        properties["StreamSpecification"] = {"StreamViewType": table.stream_view}
    kept = {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"} if table.retained else {}
    return {**kept, "Properties": properties}


def _role(role: Role, render: _Renderer) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "RoleName": role.name,
        "AssumeRolePolicyDocument": render.trust(role),
        "Policies": [
            {"PolicyName": role.policy_name, "PolicyDocument": render.resolve(role.policy)}
        ],
    }
    if role.max_session_seconds is not None:
        properties["MaxSessionDuration"] = role.max_session_seconds
    return {"Properties": properties}


def _bucket(bucket: Bucket, render: _Renderer) -> dict[str, Any]:
    transition = {
        "StorageClass": bucket.colder_storage_class,
        "TransitionInDays": bucket.transition_days,
    }
    properties = {
        "BucketName": bucket.name,
        "BucketEncryption": {
            "ServerSideEncryptionConfiguration": [
                {"ServerSideEncryptionByDefault": {"SSEAlgorithm": bucket.encryption}}
            ]
        },
        "PublicAccessBlockConfiguration": dict.fromkeys(
            PUBLIC_ACCESS_BLOCKS, bucket.block_public_access
        ),
        "LifecycleConfiguration": {
            "Rules": [
                {"Id": bucket.lifecycle_rule_id, "Status": "Enabled", "Transitions": [transition]}
            ]
        },
    }
    kept = {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"} if bucket.retained else {}
    return {**kept, "Properties": properties}


def _alarm(alarm: Alarm, render: _Renderer) -> dict[str, Any]:
    return {
        "Properties": {
            "AlarmName": alarm.name,
            "AlarmDescription": alarm.description,
            "Namespace": alarm.namespace,
            "MetricName": alarm.metric,
            "Dimensions": [
                {"Name": name, "Value": render.value(ref)} for name, ref in alarm.dimensions.items()
            ],
            "Statistic": alarm.statistic,
            "Period": alarm.period_seconds,
            "EvaluationPeriods": alarm.evaluation_periods,
            "Threshold": alarm.threshold,
            "ComparisonOperator": alarm.comparison,
            "TreatMissingData": alarm.treat_missing_data,
        }
    }


def _dashboard(dashboard: Dashboard, render: _Renderer) -> dict[str, Any]:
    return {
        "Properties": {
            "DashboardName": dashboard.name,
            "DashboardBody": {"Fn::Sub": dashboard.body(render.placeholder)},
        }
    }


def _usage_plan(plan: UsagePlan, render: _Renderer) -> dict[str, Any]:
    stage = {"ApiId": {"Ref": plan.api.names.cloudformation}}
    stage["Stage"] = {"Ref": f"{plan.api.names.cloudformation}.Stage"}  # SAM's implicit stage
    return {
        "Properties": {
            "UsagePlanName": plan.name,
            "Description": plan.description,
            "ApiStages": [stage],
            "Throttle": {"RateLimit": plan.rate_limit, "BurstLimit": plan.burst_limit},
        }
    }


_RENDERERS: Final[Mapping[type[Resource], Callable[[Any, _Renderer], dict[str, Any]]]] = {
    Queue: _queue,
    Table: _table,
    Role: _role,
    Alarm: _alarm,
    Dashboard: _dashboard,
    Bucket: _bucket,
    UsagePlan: _usage_plan,
}


def _added(model: Stack, render: _Renderer) -> dict[str, Any]:
    """The resources the template adds to Chalice's, in CloudFormation's syntax."""
    added = {}
    for resource in model.resources:
        if type(resource) not in _RENDERERS:
            continue
        if isinstance(resource, UsagePlan) and not render.with_functions:
            continue  # `chalice deploy` makes the API after this stack: it has no stage to meter
        condition = {} if resource.only_if is None else {"Condition": _condition(resource.only_if)}
        added[resource.names.cloudformation] = {
            "Type": TYPES[type(resource)],
            **condition,
            **_scan_metadata(resource),
            **_RENDERERS[type(resource)](resource, render),
        }
    return added


def _condition(switch: Switch) -> str:
    return switch.names.cloudformation


def _switches(model: Stack) -> dict[str, Any]:
    parameters = {
        switch.names.cloudformation: {
            "Type": "String",
            "AllowedValues": ["false", "true"],
            "Default": "false",
            "Description": switch.description,
        }
        for switch in model.switches
    }
    conditions = {
        _condition(switch): {"Fn::Equals": [{"Ref": switch.names.cloudformation}, "true"]}
        for switch in model.switches
    }
    return {"Parameters": parameters, "Conditions": conditions}


def _outputs(model: Stack, render: _Renderer) -> dict[str, Any]:
    outputs = {}
    for output in model.outputs:
        rendered: dict[str, Any] = {"Value": render.value(output.value)}
        if output.description is not None:
            rendered["Description"] = output.description
        if output.only_if is not None:
            rendered["Condition"] = _condition(output.only_if)
        outputs[output.name] = rendered
    return outputs


def _function(function: Function, model: Stack, render: _Renderer) -> dict[str, Any]:
    """What the merge adds to one of Chalice's functions: its name, environment, event source.

    Named as `chalice deploy` names it, so that its role can name its own log group.
    """
    properties: dict[str, Any] = {
        "FunctionName": function.deployed_name,
        "Environment": {"Variables": render.resolve(function.environment)},
    }
    event_source, stream_source = model.event_source, model.stream_event_source
    if stream_source.function.names == function.names:
        pattern = {"Pattern": stream_source.filter_pattern}
        properties["Events"] = {
            stream_source.names.cloudformation: {
                "Properties": {"FilterCriteria": {"Filters": [pattern]}}
            }
        }
    if event_source.function.names == function.names:
        properties["Events"] = {
            event_source.names.cloudformation: {
                "Properties": {
                    "FunctionResponseTypes": (
                        ["ReportBatchItemFailures"]
                        if event_source.report_batch_item_failures
                        else []
                    ),
                    "BatchSize": event_source.batch_size,
                    "MaximumBatchingWindowInSeconds": event_source.batching_window_seconds,
                    "ScalingConfig": {"MaximumConcurrency": event_source.max_concurrency},
                }
            }
        }
    return {"Properties": properties, **_scan_metadata(function)}


def _function_role(function: Function, render: _Renderer) -> dict[str, Any]:
    """One of Chalice's roles, with the function's policy.

    A role's ARN is written by its name: the reader role trusts the API's role, so a reference
    from the API's role back to it would be a circular dependency.
    """

    def by_name(ref: Ref) -> Any:
        if isinstance(ref.resource, Role):
            return _role_arn(ref.resource.name)
        return render.value(ref)

    policy = {
        "PolicyName": f"{function.role.cloudformation}Policy",
        "PolicyDocument": render.resolve(function.policy, by_name),
    }
    return {"Properties": {"Policies": [policy]}}


def gateway_responses(responses: tuple[GatewayResponse, ...]) -> dict[str, Any]:
    """API Gateway's own answers as the OpenAPI extension of the API's definition.

    In the definition rather than as `AWS::ApiGateway::GatewayResponse` resources: a gateway
    response takes effect only with a new deployment, and SAM deploys the API again whenever its
    definition changes, never when a separate resource does.
    """
    return {
        response.response_type: {
            **({} if response.status_code is None else {"statusCode": str(response.status_code)}),
            "responseTemplates": {"application/json": response.template},
        }
        for response in responses
    }


def _rest_api(api: RestApi, responses: tuple[GatewayResponse, ...]) -> dict[str, Any]:
    """API Gateway tracing (Chalice's template leaves it off) and the gateway responses.

    Merged key by key into Chalice's definition; the binary media types replace Chalice's list
    with the model's, which holds it.
    """
    definition = {
        "x-amazon-apigateway-gateway-responses": gateway_responses(responses),
        "x-amazon-apigateway-binary-media-types": list(api.binary_media_types),
        "x-amazon-apigateway-api-key-source": api.api_key_source,
    }
    return {
        "Properties": {"TracingEnabled": api.traced, "DefinitionBody": definition},
        **_scan_metadata(api),
    }


def resources_template(stage: str) -> dict[str, Any]:
    """The stack's resources alone, for the plain `chalice deploy` path.

    `chalice deploy` makes the functions after this stack exists: the dashboard and the reader
    role's trust name them as it will.
    """
    model = stack(stage)
    render = _Renderer(with_functions=False)
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"robust-data-processor {stage}: queues, tables, alarms, dashboard",
        **_switches(model),
        "Resources": _added(model, render),
        "Outputs": _outputs(model, render),
    }


def merge_template(stage: str) -> dict[str, Any]:
    """What `chalice package` merges into its template for `stage`."""
    model = stack(stage)
    render = _Renderer(with_functions=True)
    resources: dict[str, Any] = {}
    for function in model.functions:
        resources[function.names.cloudformation] = _function(function, model, render)
        resources[function.role.cloudformation] = _function_role(function, render)
    resources |= _added(model, render)
    resources[model.api.names.cloudformation] = _rest_api(model.api, model.gateway_responses)
    return {**_switches(model), "Resources": resources, "Outputs": _outputs(model, render)}


def package(stage: str, out: Path) -> Path:
    """Write `sam.json` and `deployment.zip` for `stage` into `out`; return the template."""
    out.mkdir(parents=True, exist_ok=True)
    merge_file = out / "merge-template.json"
    merge_file.write_text(json.dumps(merge_template(stage), indent=2) + "\n")
    chalice_package(stage, out, "--merge-template", str(merge_file.resolve()))
    template_file = out / "sam.json"
    template = json.loads(template_file.read_text())
    # A merge template can add to Chalice's dicts but not replace one: merging {"Fn::GetAtt"}
    # into Chalice's {"Fn::Sub"} queue ARN would give an intrinsic with two functions.
    # Chalice writes the stream's ARN as the app's decorator names it, which only the deployed
    # table knows: the reference replaces it.
    model, render = stack(stage), _Renderer(with_functions=True)
    source, stream_source = model.event_source, model.stream_event_source
    functions = template["Resources"]
    events = functions[source.function.names.cloudformation]["Properties"]["Events"]
    events[source.names.cloudformation]["Properties"]["Queue"] = render.value(
        Ref(source.queue, "arn")
    )
    events = functions[stream_source.function.names.cloudformation]["Properties"]["Events"]
    events[stream_source.names.cloudformation]["Properties"]["Stream"] = render.value(
        stream_source.stream
    )
    template_file.write_text(json.dumps(template, indent=2) + "\n")
    return template_file


def main() -> None:
    """Package one stage into `build/<stage>/`."""
    from infra.stage import PROJECT_DIR

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stage", default="prod")
    parser.add_argument("--out", type=Path)
    parser.add_argument(
        "--resources-only",
        action="store_true",
        help="write only resources.json (queues, tables, alarms) for `chalice deploy` to use",
    )
    args = parser.parse_args()
    out = args.out or PROJECT_DIR / "build" / args.stage
    if args.resources_only:
        out.mkdir(parents=True, exist_ok=True)
        written = out / "resources.json"
        written.write_text(json.dumps(resources_template(args.stage), indent=2) + "\n")
    else:
        written = package(args.stage, out)
    print(f"wrote {written}")


if __name__ == "__main__":
    main()
