//! The fake's own tests: it fails what it cannot decode, and refuses what CloudWatch refuses.

use super::*;

/// The fake's own guarantee: what it cannot decode fails the test, at the next look at it.
mod failures {
    use std::panic::{AssertUnwindSafe, catch_unwind};

    use ciborium::Value;

    use super::{FakeCloudWatch, PUT_METRIC_DATA_PATH};
    use crate::helpers::TestApp;

    async fn put(fake: &FakeCloudWatch, body: Vec<u8>) -> u16 {
        let r = reqwest::Client::new()
            .post(format!("{}{PUT_METRIC_DATA_PATH}", fake.url()))
            .header("smithy-protocol", "rpc-v2-cbor")
            .header("content-type", "application/cbor")
            .body(body)
            .send()
            .await
            .expect("the fake answers instead of dropping the connection");
        r.status().as_u16()
    }

    fn message(panic: Box<dyn std::any::Any + Send>) -> String {
        match panic.downcast::<String>() {
            Ok(s) => *s,
            Err(panic) => panic.downcast_ref::<&str>().map(|s| s.to_string()).unwrap_or_default(),
        }
    }

    fn panic_of<T>(look: impl FnOnce() -> T) -> String {
        match catch_unwind(AssertUnwindSafe(look)) {
            Ok(_) => panic!("looking at the fake did not panic after it failed"),
            Err(panic) => message(panic),
        }
    }

    #[tokio::test]
    async fn a_body_that_is_not_cbor_fails_every_look_at_the_fake() {
        let fake = FakeCloudWatch::start().await;
        assert_eq!(put(&fake, b"\xff\xfe not CBOR".to_vec()).await, 400);
        for looked in [
            panic_of(|| fake.attempts()),
            panic_of(|| fake.requests()),
            panic_of(|| fake.datums("Test")),
            panic_of(|| fake.check()),
        ] {
            assert!(looked.starts_with("the fake CloudWatch failed on a request it received"), "{looked}");
            assert!(looked.contains("body is not CBOR"), "{looked}");
        }
    }

    #[tokio::test]
    async fn a_panic_while_decoding_is_recorded_not_a_dropped_connection() {
        let fake = FakeCloudWatch::start().await;
        let text = |s: &str| Value::Text(s.into());
        let datum =
            Value::Map(vec![(text("MetricName"), text("X")), (text("Values"), Value::Array(vec![text("one")]))]);
        let request =
            Value::Map(vec![(text("Namespace"), text("Test")), (text("MetricData"), Value::Array(vec![datum]))]);
        let mut body = Vec::new();
        ciborium::into_writer(&request, &mut body).unwrap();
        assert_eq!(put(&fake, body).await, 400);
        let looked = panic_of(|| fake.datums("Test"));
        assert!(looked.contains("panicked: not a number: Text(\"one\")"), "{looked}");
    }

    #[tokio::test]
    async fn the_test_apps_shutdown_and_drop_report_the_fakes_failure() {
        let app = TestApp::spawn(|_| {}).await;
        put(&app.fake, b"\xff".to_vec()).await;
        let panic = tokio::spawn(app.shutdown()).await.expect_err("shutdown panics").into_panic();
        assert!(message(panic).contains("body is not CBOR"));

        let app = TestApp::spawn(|_| {}).await;
        put(&app.fake, b"\xff".to_vec()).await;
        let panic = tokio::spawn(async move { drop(app) }).await.expect_err("drop panics").into_panic();
        assert!(message(panic).contains("body is not CBOR"));
    }
}

/// The fake refuses numbers out of CloudWatch's range as CloudWatch does, without counting
/// it as a failure of its own.
mod range {
    use aws_sdk_cloudwatch::config::retry::RetryConfig;
    use aws_sdk_cloudwatch::error::ProvideErrorMetadata;
    use aws_sdk_cloudwatch::types::{MetricDatum, StatisticSet};

    use super::FakeCloudWatch;
    use crate::helpers::sdk_config;

    async fn put(fake: &FakeCloudWatch, datum: MetricDatum) -> Result<(), String> {
        let client = aws_sdk_cloudwatch::Client::from_conf(
            sdk_config(&fake.url()).retry_config(RetryConfig::disabled()).build(),
        );
        match client.put_metric_data().namespace("Test").metric_data(datum).send().await {
            Ok(_) => Ok(()),
            Err(e) => {
                let e = e.into_service_error();
                assert_eq!(e.code(), Some("InvalidParameterValue"));
                Err(e.message().unwrap_or_default().to_string())
            }
        }
    }

    fn values(values: &[f64], counts: &[f64]) -> MetricDatum {
        MetricDatum::builder()
            .metric_name("M")
            .set_values(Some(values.to_vec()))
            .set_counts((!counts.is_empty()).then(|| counts.to_vec()))
            .build()
    }

    #[tokio::test]
    async fn numbers_out_of_range_are_invalid_parameter_values() {
        let fake = FakeCloudWatch::start().await;
        let two_360 = 2f64.powi(360);
        assert_eq!(put(&fake, values(&[two_360, -two_360, 0.0], &[])).await, Ok(()));
        let e = put(&fake, values(&[1.0, 3e108], &[])).await.unwrap_err();
        assert!(e.contains("MetricData.member.1.Values.member.2"), "{e}");
        let e = put(&fake, values(&[1.0], &[4e108])).await.unwrap_err();
        assert!(e.contains("Counts.member.1"), "{e}");
        let e = put(&fake, values(&[1.0, 2.0], &[2e108, 2e108])).await.unwrap_err();
        assert!(e.contains("SampleCount"), "{e}");
        let e = put(&fake, values(&[5.0], &[2e108])).await.unwrap_err();
        assert!(e.contains("the datum's Sum"), "{e}");
        let e = put(&fake, values(&[1e-110], &[])).await.unwrap_err();
        assert!(e.contains("Values.member.1"), "{e}");
        let stats = |sum: f64| {
            let set = StatisticSet::builder().sample_count(2.0).sum(sum).minimum(1.0).maximum(2e108).build();
            MetricDatum::builder().metric_name("S").statistic_values(set).build()
        };
        assert_eq!(put(&fake, stats(2e108)).await, Ok(()));
        let e = put(&fake, stats(4e108)).await.unwrap_err();
        assert!(e.contains("StatisticValues.Sum"), "{e}");
        fake.check();
        assert_eq!(fake.requests().len(), 2);
    }
}
