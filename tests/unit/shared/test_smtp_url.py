"""``MLP_SMTP_URL`` read once for every service (shared.platform.smtp.SmtpUrl)."""

from __future__ import annotations

from shared.platform.smtp import SmtpUrl


def test_the_three_url_forms_their_default_ports_and_encoded_credentials():
    assert SmtpUrl.parse("smtp://mailpit:1025") == SmtpUrl("mailpit", 1025)
    assert SmtpUrl.parse("smtp://relay.test") == SmtpUrl("relay.test", 25)
    starttls = SmtpUrl.parse("smtp+starttls://notifier:s3cret%3A%2F%40@relay.test:587")
    assert starttls == SmtpUrl("relay.test", 587, "notifier", "s3cret:/@", starttls=True) and starttls.secure
    assert SmtpUrl.parse("smtps://relay.test") == SmtpUrl("relay.test", 465, tls=True)
    assert not SmtpUrl.parse("smtp://").secure and SmtpUrl.parse("smtp://").host == "127.0.0.1"
