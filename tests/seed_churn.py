"""``customer_churn`` as the seed first wrote it: four required inputs. The input machinery's tests
(missing inputs, missing required values) use it; the registered blueprint requires nothing."""

from __future__ import annotations

from tracer.blueprints.recipes import customer_churn as churn


class SeedChurn(churn.CustomerChurn):
    """customer_churn requiring a customer id, last activity, account creation and lifetime value."""

    required_inputs = (churn.CUSTOMER_ID, churn.LAST_ACTIVITY, churn.ACCOUNT_CREATED, churn.TOTAL_VALUE)
    optional_inputs = (
        churn.SUPPORT_TICKETS,
        churn.FEATURE_USAGE,
        churn.PLAN_TYPE,
        churn.AS_OF,
        churn.CHURNED,
    )
    learns_context = False
