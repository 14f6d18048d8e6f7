"""Read back what CloudWatch (here LocalStack) holds, for scripts/demo.sh.

Everything printed is CloudWatch's own answer through its API (boto3): statistics it does not
compute (LocalStack computes no percentiles) are shown as n/a, never computed locally.

  demo_report.py wait-alarm ALARM_NAME QUEUE_URL TIMEOUT_SECONDS
  demo_report.py report NAMESPACE DIMENSIONS_JSON METRIC...
  demo_report.py dashboard-data DASHBOARD_BODY_JSON MINUTES OUT.json
"""

import datetime
import json
import sys
import time

import boto3
import botocore.exceptions

ENDPOINT = "http://127.0.0.1:4566"


def client(service):
    return boto3.client(
        service,
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def wait_alarm(alarm, queue_url, timeout):
    cw, sqs = client("cloudwatch"), client("sqs")
    deadline = time.time() + timeout
    state = None
    while time.time() < deadline:
        alarms = cw.describe_alarms(AlarmNames=[alarm])["MetricAlarms"]
        new = alarms[0]["StateValue"] if alarms else "MISSING"
        if new != state:
            reason = alarms[0].get("StateReason", "") if alarms else ""
            print(f"    alarm {alarm}: {new}  {reason}", flush=True)
            state = new
        if state == "ALARM":
            break
        time.sleep(3)
    if state != "ALARM":
        sys.exit(f"the alarm did not fire within {timeout}s (last state {state})")
    while time.time() < deadline:
        for m in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=2).get("Messages", []):
            body = json.loads(m["Body"])
            message = json.loads(body["Message"]) if "Message" in body else body
            if message.get("AlarmName") == alarm and message.get("NewStateValue") == "ALARM":
                print("    SNS notification received on the SQS queue:")
                for key in ("AlarmName", "NewStateValue", "NewStateReason", "StateChangeTime"):
                    print(f"      {key}: {message.get(key)}")
                return
    sys.exit("the alarm fired but no notification reached the SQS queue")


def report(namespace, dimensions, metrics):
    cw = client("cloudwatch")
    dims = [{"Name": k, "Value": v} for k, v in sorted(dimensions.items())]
    end = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=1)
    start = end - datetime.timedelta(minutes=15)
    print(f"    {'metric':<14} {'unit':<13} {'count':>8} {'sum':>12} {'average':>10} {'min':>9} {'max':>9} {'p50':>6} {'p99':>6}")
    for name in metrics:
        answer = cw.get_metric_statistics(
            Namespace=namespace,
            MetricName=name,
            Dimensions=dims,
            StartTime=start,
            EndTime=end,
            Period=900,
            Statistics=["SampleCount", "Sum", "Average", "Minimum", "Maximum"],
            ExtendedStatistics=["p50", "p99"],
        )
        points = answer["Datapoints"]
        if not points:
            print(f"    {name:<14} no data in CloudWatch")
            continue
        p = points[0]
        extended = p.get("ExtendedStatistics", {})
        pct = lambda k: f"{extended[k]:.1f}" if k in extended else "n/a"  # noqa: E731
        print(
            f"    {name:<14} {p.get('Unit', ''):<13} {p['SampleCount']:>8.0f} {p['Sum']:>12.1f} {p['Average']:>10.3f}"
            f" {p['Minimum']:>9.1f} {p['Maximum']:>9.1f} {pct('p50'):>6} {pct('p99'):>6}"
        )
    print("    (as CloudWatch reports it; n/a: the emulator computes no percentiles)")


def dashboard_data(body_file, minutes, out_file):
    """GetMetricData for every metric row of a dashboard body's widgets, over the last MINUTES,
    written as GetMetricData's answer (results of all calls concatenated), query Ids w<widget>m<row>
    as scripts/dashboard/dashboard.js reads them."""
    cw = client("cloudwatch")
    body = json.load(open(body_file))
    queries = []
    for wi, w in enumerate(body["widgets"]):
        if w["type"] != "metric":
            continue
        props = w["properties"]
        for mi, row in enumerate(props["metrics"]):
            opts = row[-1] if isinstance(row[-1], dict) else {}
            names = [x for x in row if isinstance(x, str)]
            dims = [{"Name": names[k], "Value": names[k + 1]} for k in range(2, len(names) - 1, 2)]
            queries.append({
                "Id": f"w{wi}m{mi}",
                "Label": opts.get("label", names[1]),
                "MetricStat": {
                    "Metric": {"Namespace": names[0], "MetricName": names[1], "Dimensions": dims},
                    "Period": opts.get("period", props.get("period", 60)),
                    "Stat": opts.get("stat", "Average"),
                },
            })
    end = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=1)
    start = end - datetime.timedelta(minutes=minutes)
    results, messages = [], []

    def ask(batch):
        token = None
        while True:
            args = {"MetricDataQueries": batch, "StartTime": start, "EndTime": end, "ScanBy": "TimestampAscending"}
            if token:
                args["NextToken"] = token
            answer = cw.get_metric_data(**args)
            results.extend(answer["MetricDataResults"])
            messages.extend(answer.get("Messages", []))
            token = answer.get("NextToken")
            if not token:
                return

    standard = {"SampleCount", "Sum", "Average", "Minimum", "Maximum"}
    plain = [q for q in queries if q["MetricStat"]["Stat"] in standard]
    for k in range(0, len(plain), 500):  # GetMetricData's limit of queries per call
        ask(plain[k : k + 500])
    # Percentiles one query at a time: an emulator that computes none (LocalStack) fails the
    # whole call; such a series stays empty on the page, with CloudWatch's error recorded.
    for q in queries:
        if q["MetricStat"]["Stat"] in standard:
            continue
        try:
            ask([q])
        except botocore.exceptions.ClientError as e:
            results.append({"Id": q["Id"], "Label": q["Label"], "Timestamps": [], "Values": [], "StatusCode": "InternalError"})
            messages.append({"Code": q["Id"], "Value": str(e)})
    for r in results:
        r["Timestamps"] = [t.isoformat() for t in r.get("Timestamps", [])]
    with open(out_file, "w") as f:
        json.dump({"MetricDataResults": results, "Messages": messages}, f)
    points = sum(len(r["Values"]) for r in results)
    print(f"    GetMetricData: {len(queries)} queries, {points} points, {sum(1 for r in results if r['Values'])} series with data"
          f"{f', {len(messages)} refused (the emulator computes no percentiles)' if messages else ''}")


if __name__ == "__main__":
    if len(sys.argv) >= 5 and sys.argv[1] == "wait-alarm":
        wait_alarm(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif len(sys.argv) >= 5 and sys.argv[1] == "report":
        report(sys.argv[2], json.loads(sys.argv[3]), sys.argv[4:])
    elif len(sys.argv) == 5 and sys.argv[1] == "dashboard-data":
        dashboard_data(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        sys.exit(__doc__)
