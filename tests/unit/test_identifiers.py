import pytest

from factory.domain.errors import InvalidInput
from factory.domain.identifiers import check_login, check_slug


@pytest.mark.parametrize("good", ["prusa-mk4-1", "a", "x" * 64])
def test_slugs_usable_in_mqtt_topics_are_accepted(good):
    assert check_slug(good, field="id") == good


@pytest.mark.parametrize("bad", ["", "Prusa", "a/b", "a+b", "#", "x" * 65, "é"])
def test_slugs_that_would_break_an_mqtt_topic_are_refused(bad):
    with pytest.raises(InvalidInput) as raised:
        check_slug(bad, field="id")
    assert raised.value.field == "id"


def test_logins_are_case_insensitive():
    assert check_login(" Steward ") == "steward"
