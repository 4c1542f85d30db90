"""cardshield as the endpoint of Twilio's Generic Pay Connector (<Pay> and Agent Assist Pay).

Twilio collects the card on the call (the caller keys it, agents see only masked digits) and
POSTs it as JSON, with HTTP Basic credentials, to the URL configured for the connector
(https://www.twilio.com/docs/voice/twiml/pay/generic-pay-connector). cardshield tokenizes it
into the vault and, for a charge, pays through its configured connector; Twilio gets back a
token or a payment id, never card data.

* :mod:`.request` - the JSON in, as typed card values and minor-unit amounts;
* :mod:`.service` - tokenize or charge, once per Twilio ``transaction_id``;
* :mod:`.answers` - the JSON out, in Twilio's shape (and the project's error object);
* :mod:`.credentials` - the per-merchant Basic credentials;
* :mod:`.limits` - the rate limits of the endpoint.

The HTTP route is :mod:`cardshield.web.routers.twilio_pay`; the CLI
``cardshield pay-connector credentials``.
"""

from __future__ import annotations

from cardshield.phone.pay_connector.service import Answer, PayConnectorService

__all__ = ["Answer", "PayConnectorService"]
