//! A response body as a script of steps: bytes, pauses, a stall that never ends, a break-off
//! that kills the connection. It also carries the request's in-flight token, so the mock's
//! in-flight count falls exactly when the body is finished or dropped (client gone).

use std::collections::VecDeque;
use std::future::Future as _;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::Sleep;

use super::State;

/// How long a break-off waits before killing the connection, so the bytes before it leave the
/// socket buffer first (hyper does not flush what it holds when a body fails).
pub(crate) const FLUSH_BEFORE_BREAK: Duration = Duration::from_millis(20);

#[derive(Debug)]
pub(crate) enum Step {
    Data(Bytes),
    Pause(Duration),
    /// Pending forever; the body only ends when the connection is dropped.
    Stall,
    /// Fail the body, which makes hyper drop the connection mid-response.
    BreakOff,
}

/// Counts one request as in flight from creation until dropped.
pub(crate) struct InFlight(Arc<State>);

impl InFlight {
    pub(crate) fn enter(state: &Arc<State>) -> Self {
        state.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(Arc::clone(state))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

pub(crate) struct MockBody {
    steps: VecDeque<Step>,
    pause: Option<Pin<Box<Sleep>>>,
    in_flight: Option<InFlight>,
}

impl MockBody {
    pub(crate) fn new(steps: Vec<Step>, in_flight: InFlight) -> Self {
        MockBody { steps: steps.into(), pause: None, in_flight: Some(in_flight) }
    }
}

impl Body for MockBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        let this = self.get_mut();
        loop {
            if let Some(pause) = this.pause.as_mut() {
                if pause.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                this.pause = None;
            }
            match this.steps.pop_front() {
                None => {
                    this.in_flight = None;
                    return Poll::Ready(None);
                }
                Some(Step::Data(bytes)) => {
                    if this.steps.is_empty() {
                        // Leave the in-flight count before the client can see the end.
                        this.in_flight = None;
                    }
                    return Poll::Ready(Some(Ok(Frame::data(bytes))));
                }
                Some(Step::Pause(duration)) => {
                    this.pause = Some(Box::pin(tokio::time::sleep(duration)));
                }
                Some(Step::Stall) => {
                    this.steps.push_front(Step::Stall);
                    return Poll::Pending;
                }
                Some(Step::BreakOff) => {
                    this.steps.clear();
                    return Poll::Ready(Some(Err(std::io::Error::other(
                        "mock upstream: connection broken off on purpose",
                    ))));
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.steps.is_empty() && self.pause.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        match (self.steps.len(), self.steps.front()) {
            (0, _) => SizeHint::with_exact(0),
            (1, Some(Step::Data(bytes))) => SizeHint::with_exact(bytes.len() as u64),
            _ => SizeHint::default(),
        }
    }
}
