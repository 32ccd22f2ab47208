//! Signing in with an API key (checked against both services), and out.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use axum_extra::extract::PrivateCookieJar;
use secrecy::SecretString;
use serde::Deserialize;

use super::{PageError, Section, Shell, render_with};
use crate::Console;
use crate::api::{self, Caller};
use crate::session::Session;

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    shell: Shell,
    csrf: String,
    refused: bool,
}

#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    api_key: String,
}

fn request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get(&service_kit::http::REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Whether the services run open: they answer without a key.
async fn services_are_open(anonymous: &Caller) -> Result<bool, api::Error> {
    match anonymous.check_key().await {
        Ok(()) => Ok(true),
        Err(api::Error::Unauthorized) => Ok(false),
        Err(error) => Err(error),
    }
}

/// `GET /sign-in`: the form, with a session (and so a CSRF token) for a visitor who has
/// none.
pub async fn show_sign_in(
    State(console): State<Console>,
    headers: HeaderMap,
    jar: PrivateCookieJar,
) -> Result<Response, PageError> {
    let session = Session::load(&jar).unwrap_or_default();
    let anonymous = console.api.caller(None, request_id(&headers));
    // A service that cannot be reached is told on sign-in; the form is shown either way.
    let open = services_are_open(&anonymous).await.unwrap_or(false);
    let page = SignInPage {
        shell: Shell::new("Sign in", Section::None, None, open),
        csrf: session.csrf.clone(),
        refused: false,
    };
    let jar = session.save(jar);
    Ok((jar, render_with(StatusCode::OK, &page)?).into_response())
}

/// `POST /sign-in`: the key is accepted when both services take it (in open mode, an empty
/// one is too); the new session gets a fresh CSRF token.
pub async fn sign_in(
    State(console): State<Console>,
    headers: HeaderMap,
    jar: PrivateCookieJar,
    Form(form): Form<SignInForm>,
) -> Result<Response, PageError> {
    let typed = form.api_key.trim();
    let key = Some(typed)
        .filter(|k| !k.is_empty())
        .map(|k| SecretString::from(k.to_owned()));
    let request_id = request_id(&headers);
    let anonymous = console.api.caller(None, request_id.clone());
    let with_key = console.api.caller(key.clone(), request_id);
    // A key is visible ASCII (it travels in a header); anything else is refused unsent.
    let sendable = typed.chars().all(|c| c.is_ascii_graphic());
    let check = async {
        if sendable {
            with_key.check_key().await
        } else {
            Err(api::Error::Unauthorized)
        }
    };
    let (open, accepted) = futures::join!(services_are_open(&anonymous), check);
    match accepted {
        Ok(()) => {
            let session = Session::signed_in(key, open.unwrap_or(false));
            Ok((session.save(jar), Redirect::to("/customers")).into_response())
        }
        Err(api::Error::Unauthorized) => {
            let session = Session::load(&jar).unwrap_or_default();
            let page = SignInPage {
                shell: Shell::new("Sign in", Section::None, None, open.unwrap_or(false)),
                csrf: session.csrf.clone(),
                refused: true,
            };
            Ok((
                session.save(jar),
                render_with(StatusCode::UNAUTHORIZED, &page)?,
            )
                .into_response())
        }
        Err(error) => Err(error.into()),
    }
}

/// `POST /sign-out`: the key is dropped with the session; a new one (no key) replaces it.
pub async fn sign_out(jar: PrivateCookieJar) -> Response {
    (Session::new().save(jar), Redirect::to("/sign-in")).into_response()
}
