//! The inbound SMTP front door of the relay domain, beside `api/inbound`: the listener that
//! takes mail from the site's MTA, and Postfix's policy service that answers, during the
//! sender's own dialogue, whether a recipient and a message will be accepted. Both parse what
//! arrives and hand it to the relay use case; the mail parsing and authentication they rely on
//! live in `mail/`.

pub mod listener;
pub mod policy;
