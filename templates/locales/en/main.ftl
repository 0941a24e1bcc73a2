## Shared by every page
site-tagline = Feedback
nav-privacy = Privacy policy
nav-write = Write to us
language-label = Language
footer-sealed = Your e-mail address is sealed: it is stored encrypted and nobody, staff included, ever sees it.
footer-powered = Powered by Sealpost

## The feedback form
form-title = Write to us
form-intro = We read every message. Only the message and your consent to the privacy policy are required; everything else is up to you.
field-optional = optional
field-required = required
field-name = Your name
field-name-hint = How should we address you?
field-email = E-mail address
field-email-hint = Without an address nobody can answer you by e-mail; you can still read answers through the private link you get after sending.
field-email-sealed = Sealed: stored encrypted, never shown to anyone.
field-subject = Subject
field-body = Message
field-body-hint = Plain text, or simple formatting: paragraphs, bold, italics, lists and links.
field-consent = I have read the privacy policy and accept it.
field-consent-link = Read the privacy policy
field-consent-version = Version { $version }
honeypot-label = Leave this field empty
form-submit = Send message
form-errors-summary = Please check the marked fields; everything you typed is still here.

## Field errors
error-required = This field is required.
error-too-long = Please use at most { $max } characters.
error-control-characters = Line breaks and control characters are not allowed here.
error-body-control-characters = The message contains control characters (such as NUL) that text cannot hold.
error-invalid-email = This does not look like an e-mail address, for example name@example.org.
error-unsupported = This value is not supported.
error-consent = Please accept the privacy policy to send your message.
error-stale-policy = The privacy policy has changed since this page was opened. Please read it and accept it again.
error-policy-version-missing = The form arrived without the version of the privacy policy it showed. Please check the policy above and send again; your text is kept.
error-refused = This message cannot be accepted as written. If you wrote it yourself, please shorten it or leave out the links, and send it again; your text is kept below.
error-captcha = The captcha was not solved. Please try again.
error-captcha-unavailable = We could not check the captcha just now. Please try again in a minute; your text is kept below.
error-pow = The check that this form was sent from a person's browser did not go through. Please wait until the check below is done and send the form again; your text is kept below.
error-pow-required = This form needs JavaScript to check that it was sent from a person's browser. Please turn JavaScript on, wait until the check below is done and send the form again; your text is kept below.
pow-noscript = Without JavaScript your message is still sent, but it is reviewed before it reaches anyone.
pow-noscript-required = This form needs JavaScript: it checks, in your browser and without any other site, that a person sends it.
error-rate-limited = You have sent several messages in a short time. Please wait { $seconds } seconds and send again; your text is kept below.

## The confirmation
sent-title = Message sent
sent-lead = Thank you, your message has arrived.
sent-reference = Your reference
sent-reference-hint = Quote it if you contact us about this message.
sent-link-title = Your private link
sent-link-text = Keep this link: it is the only way to read our answers and to write again in this conversation. Anyone who has it can read the conversation, so do not share it.
sent-open-thread = Open the conversation
sent-write-another = Write another message

## The private thread
thread-title = Conversation { $reference }
thread-started = Started on { $date }
thread-status-new = Received
thread-status-open = Open
thread-status-answered = Answered
thread-status-closed = Closed
thread-status-spam = Closed
author-visitor = You
author-staff = { $site } team
thread-waiting = No answer yet. Our answer will appear on this page, and in your mailbox if you gave an address.
thread-write-again = Write again
thread-send = Send
thread-private-note = This page is private: anyone with its link can read it.

## The privacy policy
privacy-title = Privacy policy
privacy-version = Version { $version }
privacy-not-translated = This policy is not yet available in your language; it is shown in the site's default language.

## Error pages
error-title-not-found = Not found
error-text-not-found = This page does not exist, or its link is no longer valid.
error-title-too-large = Too large
error-text-too-large = What you sent is larger than we accept. Please shorten it and try again.
error-title-rate-limited = Too many requests
error-text-rate-limited = Please wait a minute and try again.
error-title-unavailable = Temporarily unavailable
error-text-unavailable = We could not complete this just now. Please try again in a minute.
error-title-timeout = The request took too long
error-text-timeout = Your browser did not finish sending the page in time. Please send it again.
error-title-forbidden = Not allowed
error-text-forbidden = Your account may not open this page, or the form had expired. Go back, reload the page and try again.
error-title-bad-request = Something is wrong with the request
error-text-bad-request = Your browser sent something we could not read. Please go back and try again.
error-title-internal = Something went wrong
error-text-internal = This is our fault. Please try again later.
error-request-id = Request id: { $id }
error-back = Back to the form

## Mail
# The subject of every mail of a conversation is the same, with its reference, so that
# mail clients keep one thread; these stand in when the visitor gave no subject.
mail-thread-subject-staff = Message via { $site }
mail-thread-subject-visitor = Your message to { $site }
mail-new-intro = A visitor wrote through the feedback form.
mail-followup-intro = The visitor wrote again in this conversation.
mail-subject-label = Subject
mail-reference-label = Reference
mail-new-reply-hint = Reply to this e-mail to answer. Your answer reaches the visitor from the support address: they never see your address, and nobody sees theirs.
mail-new-no-email = The visitor left no e-mail address: answer in the staff inbox, and they will read it through their private link.
mail-new-inbox-link = Open it in the staff inbox: { $url }
mail-new-inbox-button = Open in the staff inbox
mail-ack-intro = Thank you for writing to { $site }. Your message has arrived.
mail-ack-link = Your private link to the conversation; keep it to yourself:
mail-ack-reply-hint = You can also reply to this e-mail to add to your message.
mail-answer-intro = { $site } answered your message:
mail-answer-reply-hint = Reply to this e-mail to answer. The private link in our first e-mail shows the whole conversation.
mail-footer-auto = This message was sent automatically by { $site }.
mail-relay-notice-subject = Your answer was not passed on { $reference }
mail-relay-notice-intro = Your answer by e-mail to { $reference } did not reach the visitor.
mail-relay-notice-empty = The mail had no text Sealpost could read: only quoted history, a signature, or attachments.
mail-relay-notice-unreadable = Its HTML was too large or too deeply nested to read, and it had no plain-text part.
mail-relay-notice-too-long = Its new text was longer than 20,000 characters.
mail-relay-notice-again = Answer again by e-mail, or in the staff inbox.

## Disclosures: the notice to the data subject
mail-disclosure-subject = Data about your message { $reference } was disclosed
mail-disclosure-intro = Under a legal order, { $site } had to disclose data about you and your message to an authority. We are telling you as soon as the law allows.
mail-disclosure-authority = Disclosed to
mail-disclosure-basis = Legal basis
mail-disclosure-date = Date of disclosure
mail-disclosure-what = What was disclosed
mail-disclosure-why = Only the data the order covered was disclosed, and every step was recorded in our audit log. If you have questions, reply to this e-mail.

## Disclosures: legal instruments and categories of data
instrument-subpoena = Subpoena
instrument-court_order = Court order
instrument-warrant = Warrant
instrument-emergency = Emergency request
instrument-user_consent = The user's consent
category-contact_data = Contact data (e-mail address, name, IP address)
category-message_content = The content of your messages
category-technical_data = Technical data (IP address, times, language)

## The transparency report
nav-transparency = Transparency report
transparency-title = Transparency report
transparency-lead = How often authorities asked us for data about the people who write to us, and what we did with each request. Counted per half-year, by the date a request arrived.
transparency-threshold = Any number above zero but below { $n } is shown only as “fewer than { $n }”, so that no single request or person can be singled out; zero is shown as 0.
transparency-fewer-than = fewer than { $n }
transparency-none = We have received no requests for data so far.
transparency-received = Requests received
transparency-by-instrument = By legal basis
transparency-outcome = Outcome
transparency-rejected = Rejected
transparency-partly = Partly disclosed
transparency-fully = Fully disclosed
transparency-withdrawn = Withdrawn
transparency-pending = Still being handled
transparency-subjects = People whose data was disclosed
transparency-partly-hint = “Partly disclosed” means we disclosed less than was asked for: fewer kinds of data, or about fewer people.

## The visitor's own data
thread-your-data = Your data: <a href="{ $base }/export">download everything we hold about this conversation</a> (JSON) · <a href="{ $base }/erase">withdraw consent and erase it</a>
erase-title = Erase this conversation?
erase-text = Your messages, our answers and your contact data (address, name, the IP it came from) will be deleted for good, and this link will stop working. Download your data first if you want to keep it.
erase-button = Erase everything
erase-back = Back to the conversation
erased-title = Erased
erased-text = The conversation and your contact data are deleted. Thank you for writing to us.
erase-held-title = This conversation cannot be erased now
erase-held-text = It is held and cannot be deleted at the moment. Nothing was erased. You can still read it through your private link.

## Staff: legal holds
legal-hold-placed = { $count ->
    [one] Hold placed on { $count } conversation.
   *[other] Hold placed on { $count } conversations.
}

## Staff: mail to legal users about disclosure requests
mail-approval-subject = Disclosure request { $case } awaits your approval
mail-approval-intro = A disclosure request was filed on { $site }. A second legal user must approve it before it can be executed: you may review it and approve or reject it.
mail-legal-case-label = Request
mail-legal-filed-by = Filed by
mail-legal-deadline = Deadline
mail-legal-open-link = Open the request: { $url }
mail-legal-open-button = Open the request
mail-legal-no-subjects = This mail names no data subject: who and what the request is about is on its page only.
mail-reminder-subject = Deadline near: disclosure request { $case }
mail-reminder-intro = The disclosure request below is still open, and its deadline is near.
mail-reminder-overdue = The disclosure request below is still open, and its deadline has passed.
