"""The PostgreSQL storage's keys: durus_storage and durus_dsn."""

import pytest

from qpd.config import ConfigurationError, check_configuration


def test_defaults_to_the_file_storage():
    config = check_configuration('s', {})
    assert config['durus_storage'] == 'file'
    assert config['durus_dsn'] is None


def test_a_service_name_becomes_a_service_string():
    config = check_configuration('s', {'durus_storage': 'postgresql',
                                       'durus_dsn': 'qpd_site'})
    assert config['durus_dsn'] == 'service=qpd_site'


def test_postgresql_needs_a_dsn():
    with pytest.raises(ConfigurationError) as info:
        check_configuration('s', {'durus_storage': 'postgresql'})
    assert 'durus_dsn' in str(info.value)
    assert '\n' not in str(info.value)


@pytest.mark.parametrize('dsn', [
    'host=/run/postgresql dbname=s password=sekrit',
    "host=db password='sekrit' dbname=s",
    'postgresql://qpd:sekrit@db/s',
    'postgresql://db/s?password=sekrit',
])
def test_a_password_in_the_dsn_is_refused_without_echoing_it(dsn):
    with pytest.raises(ConfigurationError) as info:
        check_configuration('s', {'durus_storage': 'postgresql',
                                  'durus_dsn': dsn})
    message = str(info.value)
    assert 'sekrit' not in message
    assert 'durus_dsn' in message and 'pgpass' in message
    assert 'PGPASSWORD' in message and '\n' not in message


def test_a_wrong_storage_names_the_choices():
    with pytest.raises(ConfigurationError) as info:
        check_configuration('s', {'durus_storage': 'pg'})
    assert "'postgresql'" in str(info.value)
