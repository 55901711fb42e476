//! The one conversion from core errors to JavaScript errors.
//!
//! The message starts with the stable code (`ERR_QUEUE_CLOSED: ...`); the
//! TypeScript layer turns it into a `ScouterQueueError` whose `code` is that
//! code, for errors thrown synchronously and promise rejections alike.

use scouter_queue_core::Error;

pub fn to_js(error: Error) -> napi::Error {
    napi::Error::from_reason(format!("{}: {error}", error.code()))
}

pub trait IntoJs<T> {
    fn into_js(self) -> napi::Result<T>;
}

impl<T> IntoJs<T> for Result<T, Error> {
    fn into_js(self) -> napi::Result<T> {
        self.map_err(to_js)
    }
}
