"""Check, through the AWS API, that an applied examples/complete exists as declared.

Run by scripts/test-terraform.sh after `terraform apply` of examples/complete against
LocalStack:

    python verify_complete.py OUTPUTS_JSON

OUTPUTS_JSON is `terraform output -json` of the example. Endpoint and credentials come
from AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_REGION.

What it checks:
- the critical and warning topics exist, are encrypted with the example's KMS key, and
  their policy lets cloudwatch.amazonaws.com publish only for alarms of this account;
- the KMS key grants cloudwatch.amazonaws.com kms:Decrypt and kms:GenerateDataKey*;
- the SQS queue is subscribed to both topics and its policy names both topics;
- every alarm of `alarm_definitions` exists with its namespace, metric, statistic or
  extended statistic, threshold, comparison, period, evaluation periods, datapoints,
  missing-data treatment, actions, metric queries, and EXACTLY its dimensions (LocalStack
  matches dimensions loosely when evaluating, so equality is checked here);
- the composite alarms exist with their rule and actions;
- the dashboard exists and its body equals the one declared;
- the sidecar's IAM policy allows only cloudwatch:PutMetricData to the given namespaces
  and is attached to the sidecar role;
- an alarm that changes state notifies its topic and the message reaches the queue
  (SetAlarmState; LocalStack does not evaluate every alarm kind, see the README).
"""

import json
import os
import sys
import time

import boto3

failures = []
checks = 0


def check(ok, what):
    global checks
    checks += 1
    if not ok:
        failures.append(what)
        print(f"  FAIL {what}")


def dims(pairs):
    return {d["Name"]: d["Value"] for d in pairs or []}


def as_list(value):
    return sorted(value or [])


def main(outputs_path):
    out = {k: v["value"] for k, v in json.load(open(outputs_path)).items()}
    session = boto3.session.Session(
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
        region_name=os.environ.get("AWS_REGION", "us-east-1"),
    )
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    cw = session.client("cloudwatch", endpoint_url=endpoint)
    sns = session.client("sns", endpoint_url=endpoint)
    sqs = session.client("sqs", endpoint_url=endpoint)
    kms = session.client("kms", endpoint_url=endpoint)
    iam = session.client("iam", endpoint_url=endpoint)
    sts = session.client("sts", endpoint_url=endpoint)
    account = sts.get_caller_identity()["Account"]

    topic_arns = out["topic_arns"]
    queue_arn = out["alert_queue_arn"]
    queue_url = out["alert_queue_url"]
    kms_key_arn = out["kms_key_arn"]

    print("topics and KMS key")
    check(set(topic_arns) == {"critical", "warning"}, f"topic_arns has critical and warning: {sorted(topic_arns)}")
    for severity, arn in topic_arns.items():
        attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
        check(attrs.get("KmsMasterKeyId") == kms_key_arn, f"topic {severity} encrypted with {kms_key_arn}: {attrs.get('KmsMasterKeyId')}")
        policy = json.loads(attrs["Policy"])
        cw_statements = [
            s for s in policy["Statement"]
            if s.get("Principal", {}).get("Service") in ("cloudwatch.amazonaws.com", ["cloudwatch.amazonaws.com"])
        ]
        check(len(cw_statements) == 1, f"topic {severity} policy has one statement for cloudwatch.amazonaws.com")
        if cw_statements:
            cond = cw_statements[0].get("Condition", {})
            check(cond.get("StringEquals", {}).get("aws:SourceAccount") in (account, [account]),
                  f"topic {severity}: CloudWatch may publish only for account {account}: {cond}")
            check(cw_statements[0].get("Action") in ("sns:Publish", ["sns:Publish"]), f"topic {severity}: CloudWatch may only publish")
    key = kms.describe_key(KeyId=kms_key_arn)["KeyMetadata"]
    check(key["KeyManager"] == "CUSTOMER" and key["Enabled"], "KMS key is an enabled customer-managed key")
    check(kms.get_key_rotation_status(KeyId=kms_key_arn)["KeyRotationEnabled"], "KMS key rotation is enabled")
    key_policy = json.loads(kms.get_key_policy(KeyId=kms_key_arn, PolicyName="default")["Policy"])
    granted = set()
    for s in key_policy["Statement"]:
        principal = s.get("Principal", {}).get("Service", [])
        principal = [principal] if isinstance(principal, str) else principal
        if "cloudwatch.amazonaws.com" in principal and s["Effect"] == "Allow":
            actions = s["Action"]
            granted.update([actions] if isinstance(actions, str) else actions)
    check({"kms:Decrypt", "kms:GenerateDataKey*"} <= granted, f"KMS key policy grants CloudWatch Decrypt and GenerateDataKey*: {sorted(granted)}")

    print("subscriptions and queue policy")
    for severity, arn in topic_arns.items():
        subs = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
        sqs_subs = [s for s in subs if s["Protocol"] == "sqs" and s["Endpoint"] == queue_arn]
        check(len(sqs_subs) == 1, f"topic {severity} has one sqs subscription to {queue_arn}")
        declared = out["subscription_arns"].get(f"alerts_queue.{severity}")
        check(bool(sqs_subs) and sqs_subs[0]["SubscriptionArn"] == declared, f"subscription ARN of {severity} is {declared}")
    queue_policy = json.loads(sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["Policy"])["Attributes"].get("Policy", "{}"))
    allowed_sources = set()
    for s in queue_policy.get("Statement", []):
        src = s.get("Condition", {}).get("ArnEquals", {}).get("aws:SourceArn", [])
        allowed_sources.update([src] if isinstance(src, str) else src)
    check(allowed_sources == set(topic_arns.values()), f"queue policy lets exactly the two topics send: {sorted(allowed_sources)}")

    print("metric alarms")
    definitions = out["alarm_definitions"]
    names = [d["alarm_name"] for d in definitions.values()]
    found = {}
    for i in range(0, len(names), 100):
        for page in cw.get_paginator("describe_alarms").paginate(AlarmNames=names[i:i + 100], AlarmTypes=["MetricAlarm"]):
            for alarm in page["MetricAlarms"]:
                found[alarm["AlarmName"]] = alarm
    for key, want in sorted(definitions.items()):
        got = found.get(want["alarm_name"])
        check(got is not None, f"alarm {want['alarm_name']} ({key}) exists")
        if got is None:
            continue
        label = f"alarm {want['alarm_name']}"
        check(got["ComparisonOperator"] == want["comparison_operator"], f"{label}: comparison {got['ComparisonOperator']} == {want['comparison_operator']}")
        check(abs(got["Threshold"] - want["threshold"]) < 1e-9, f"{label}: threshold {got['Threshold']} == {want['threshold']}")
        check(got["EvaluationPeriods"] == want["evaluation_periods"], f"{label}: evaluation periods {got['EvaluationPeriods']} == {want['evaluation_periods']}")
        check(got.get("DatapointsToAlarm") == want["datapoints_to_alarm"], f"{label}: datapoints {got.get('DatapointsToAlarm')} == {want['datapoints_to_alarm']}")
        check(got.get("TreatMissingData") == want["treat_missing_data"], f"{label}: missing data {got.get('TreatMissingData')} == {want['treat_missing_data']}")
        check(as_list(got.get("AlarmActions")) == as_list(want["alarm_actions"]), f"{label}: alarm actions {got.get('AlarmActions')} == {want['alarm_actions']}")
        check(as_list(got.get("OKActions")) == as_list(want["ok_actions"]), f"{label}: OK actions {got.get('OKActions')} == {want['ok_actions']}")
        expected_topic = topic_arns.get(want["severity"]) if want["severity"] else None
        if expected_topic:
            check(got.get("AlarmActions") == [expected_topic], f"{label}: notifies the {want['severity']} topic")
        if want["metric_queries"]:
            got_queries = {q["Id"]: q for q in got.get("Metrics", [])}
            check(set(got_queries) == {q["id"] for q in want["metric_queries"]}, f"{label}: metric query ids {sorted(got_queries)}")
            for q in want["metric_queries"]:
                g = got_queries.get(q["id"], {})
                check(g.get("ReturnData", True) == q["return_data"], f"{label}: query {q['id']} return_data")
                if q["expression"]:
                    check(g.get("Expression") == q["expression"], f"{label}: query {q['id']} expression {g.get('Expression')!r}")
                if q["metric"]:
                    stat = g.get("MetricStat", {})
                    metric = stat.get("Metric", {})
                    check(metric.get("Namespace") == q["metric"]["namespace"], f"{label}: query {q['id']} namespace")
                    check(metric.get("MetricName") == q["metric"]["metric_name"], f"{label}: query {q['id']} metric name")
                    check(dims(metric.get("Dimensions")) == (q["metric"]["dimensions"] or {}), f"{label}: query {q['id']} dimensions exactly {q['metric']['dimensions']}: {metric.get('Dimensions')}")
                    check(stat.get("Stat") == q["metric"]["stat"], f"{label}: query {q['id']} stat {stat.get('Stat')}")
                    check(stat.get("Period") == want["period"] or stat.get("Period") == q["metric"]["period"], f"{label}: query {q['id']} period {stat.get('Period')}")
        else:
            check(got.get("Namespace") == want["namespace"], f"{label}: namespace {got.get('Namespace')} == {want['namespace']}")
            check(got.get("MetricName") == want["metric_name"], f"{label}: metric {got.get('MetricName')} == {want['metric_name']}")
            check(got.get("Statistic") == want["statistic"], f"{label}: statistic {got.get('Statistic')} == {want['statistic']}")
            check(got.get("ExtendedStatistic") == want["extended_statistic"], f"{label}: extended statistic {got.get('ExtendedStatistic')} == {want['extended_statistic']}")
            check(got.get("Period") == want["period"], f"{label}: period {got.get('Period')} == {want['period']}")
            check(dims(got.get("Dimensions")) == (want["dimensions"] or {}), f"{label}: dimensions exactly {want['dimensions']}: {got.get('Dimensions')}")
    check(len(found) == len(names), f"{len(found)} of {len(names)} declared metric alarms found")

    print("composite alarms")
    composites = out["composite_alarms"]
    got_composites = {}
    if composites:
        for page in cw.get_paginator("describe_alarms").paginate(
            AlarmNames=[c["alarm_name"] for c in composites.values()], AlarmTypes=["CompositeAlarm"]
        ):
            for alarm in page["CompositeAlarms"]:
                got_composites[alarm["AlarmName"]] = alarm
    for key, want in sorted(composites.items()):
        got = got_composites.get(want["alarm_name"])
        check(got is not None, f"composite alarm {want['alarm_name']} ({key}) exists")
        if got:
            check(got["AlarmRule"] == want["alarm_rule"], f"composite {want['alarm_name']}: rule {got['AlarmRule']!r}")
            check(as_list(got.get("AlarmActions")) == as_list(want["alarm_actions"]), f"composite {want['alarm_name']}: actions")

    print("dashboard")
    dashboard = cw.get_dashboard(DashboardName=out["dashboard_name"])
    body = json.loads(dashboard["DashboardBody"])
    check(body == json.loads(out["dashboard_body"]), "dashboard body equals the declared body")
    metric_names = {m[1] for w in body["widgets"] if w["type"] == "metric" for m in w["properties"]["metrics"]}
    for name in ["RequestCount", "Http5xx", "Latency", "JobFailed", "QueueDepth", "Heartbeat", "RecordsAccepted",
                 "RecordsRejected", "DatumsPublished", "DatumsDropped", "PublishFailures", "ThrottledRequests", "BufferedDatums"]:
        check(name in metric_names, f"dashboard graphs {name}")
    alarm_widgets = [w for w in body["widgets"] if w["type"] == "alarm"]
    shown = {a for w in alarm_widgets for a in w["properties"]["alarms"]}
    declared_arns = {a["arn"] for a in definitions.values()} | {c["arn"] for c in composites.values()}
    check(shown == declared_arns, f"alarm-status widget shows every alarm ({len(shown)} of {len(declared_arns)})")

    print("sidecar IAM policy")
    policy_arn = out["sidecar_policy_arn"]
    version = iam.get_policy(PolicyArn=policy_arn)["Policy"]["DefaultVersionId"]
    document = iam.get_policy_version(PolicyArn=policy_arn, VersionId=version)["PolicyVersion"]["Document"]
    document = json.loads(document) if isinstance(document, str) else document
    statements = document["Statement"]
    actions = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    check(actions == {"cloudwatch:PutMetricData"}, f"sidecar policy allows only cloudwatch:PutMetricData: {sorted(actions)}")
    namespaces = statements[0].get("Condition", {}).get("StringEquals", {}).get("cloudwatch:namespace", [])
    namespaces = [namespaces] if isinstance(namespaces, str) else namespaces
    expected_ns = {d["namespace"] for d in definitions.values() if d["namespace"]}
    check(expected_ns <= set(namespaces), f"sidecar policy namespaces {sorted(namespaces)} cover {sorted(expected_ns)}")
    attached = iam.list_attached_role_policies(RoleName=out["sidecar_role_name"])["AttachedPolicies"]
    check(any(p["PolicyArn"] == policy_arn for p in attached), "sidecar policy is attached to the sidecar role")

    print("notification path: alarm state change -> topic -> queue")
    probe = next(d for k, d in sorted(definitions.items()) if d["severity"] == "warning")
    cw.set_alarm_state(AlarmName=probe["alarm_name"], StateValue="ALARM", StateReason="apply test: notification path")
    received = None
    deadline = time.time() + 30
    while time.time() < deadline and received is None:
        for m in sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=2, MaxNumberOfMessages=10).get("Messages", []):
            envelope = json.loads(m["Body"])
            message = json.loads(envelope.get("Message", "{}"))
            if message.get("AlarmName") == probe["alarm_name"] and message.get("NewStateValue") == "ALARM":
                received = envelope
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
    check(received is not None, f"the ALARM notification of {probe['alarm_name']} reached the queue")
    if received:
        check(received.get("TopicArn") == topic_arns["warning"], f"the notification came through the warning topic: {received.get('TopicArn')}")

    print(f"{checks - len(failures)} of {checks} checks passed")
    if failures:
        print("FAILED checks:")
        for f in failures:
            print(f"  - {f}")
        return 1
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
