//! What each authentication record type takes at create, as the scanning-configuration card
//! (Card A, A2) gathers it from Qualys's documentation. Types the card marks UNVERIFIED take
//! their credentials as optional, so that the simulator refuses nothing Qualys might accept.

/// How a record type logs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Login {
    /// `username` and either a `password` or a vault (`login_type=vault`) are required.
    Required,
    /// Credentials are accepted but not required: the sources do not say (UNVERIFIED), or,
    /// for SNMP, the version decides (see `required_when`).
    Optional,
    /// No credentials at all: the record relies on the host's Unix or Windows record, and
    /// `username`, `password` and the vault parameters are unknown to it.
    None,
}

/// One record type: its parameters besides the common ones (`title`, `comments`, `ips`,
/// `network_id`) and the login parameters, and what it requires.
#[derive(Debug)]
pub(crate) struct RecordType {
    pub slug: &'static str,
    pub login: Login,
    /// Non-secret parameters, listed back as upper-cased elements.
    pub params: &'static [&'static str],
    /// Secret parameters besides `password`: never listed, kept as SHA-256 only.
    pub secrets: &'static [&'static str],
    /// Required besides `title` and the login.
    pub required: &'static [&'static str],
    /// Pairs of parameters of which exactly one is required.
    pub exactly_one: &'static [[&'static str; 2]],
    /// Pairs of parameters that cannot be given together, though neither is required.
    pub at_most_one: &'static [[&'static str; 2]],
    /// Parameters that take one of a few values.
    pub choices: &'static [(&'static str, &'static [&'static str])],
    /// `(parameter, value, required)`: `required` is needed when `parameter` has `value`.
    pub required_when: &'static [(&'static str, &'static str, &'static str)],
    /// The only vault type the record may use (matched case-insensitively in `vault_type`).
    pub vault_only: Option<&'static str>,
    /// Asset-tag targets instead of IPs (with "Tag Support for Authentication Records").
    pub tag_targets: bool,
}

impl RecordType {
    const fn new(slug: &'static str, login: Login, params: &'static [&'static str]) -> Self {
        RecordType {
            slug,
            login,
            params,
            secrets: &[],
            required: &[],
            exactly_one: &[],
            at_most_one: &[],
            choices: &[],
            required_when: &[],
            vault_only: None,
            tag_targets: false,
        }
    }

    const fn secrets(mut self, secrets: &'static [&'static str]) -> Self {
        self.secrets = secrets;
        self
    }

    const fn required(mut self, required: &'static [&'static str]) -> Self {
        self.required = required;
        self
    }

    const fn exactly_one(mut self, pairs: &'static [[&'static str; 2]]) -> Self {
        self.exactly_one = pairs;
        self
    }

    const fn at_most_one(mut self, pairs: &'static [[&'static str; 2]]) -> Self {
        self.at_most_one = pairs;
        self
    }

    const fn choices(mut self, choices: &'static [(&'static str, &'static [&'static str])]) -> Self {
        self.choices = choices;
        self
    }

    const fn required_when(mut self, rules: &'static [(&'static str, &'static str, &'static str)]) -> Self {
        self.required_when = rules;
        self
    }

    const fn vault_only(mut self, vault: &'static str) -> Self {
        self.vault_only = Some(vault);
        self
    }

    const fn tag_targets(mut self) -> Self {
        self.tag_targets = true;
        self
    }
}

/// The parameters of a login: the user, and a vault instead of a password, with the
/// parameters particular to each vault type (Azure Key, BeyondTrust PBPS, CA Access Control,
/// ARCON PAM, CyberArk AIM).
pub(crate) const LOGIN_PARAMS: &[&str] = &[
    "username",
    "login_type",
    "vault_type",
    "vault_id",
    "ak_secret_name",
    "system_name",
    "account_name",
    "end_point_name",
    "vault_service_type",
    "folder",
    "file",
];

/// Asset-tag targets (Unix and Windows).
pub(crate) const TAG_PARAMS: &[&str] = &[
    "target_type",
    "tag_set_by",
    "tag_include_selector",
    "tag_set_include",
    "tag_exclude_selector",
    "tag_set_exclude",
];

/// Every secret parameter of every type: a parameter of this name is never listed, exported
/// or echoed in an error, and a seeded element of this name (upper-cased) is kept as a digest.
pub(crate) const SECRETS: &[&str] = &[
    "password",
    "enable_password",
    "expert_password",
    "password2",
    "community_strings",
    "encrypt_password",
    "passphrase",
    "private_key",
    "privatekey",
    "certificate",
    "cwallet",
    "ewallet",
    "client_key",
];

/// The database records whose account is either the database's own or a Windows domain's.
const DB_LOCAL: &[(&str, &str, &str)] = &[("db_local", "0", "windows_domain")];
const APP_SERVER_STATUS: &[&str] = &["status"];
const PORT_ONLY: &[&str] = &["port"];

/// The 42 types, in the order the summary list shows them.
pub(crate) static RECORD_TYPES: &[RecordType] = &[
    RecordType::new(
        "windows",
        Login::Required,
        &[
            "windows_ad_domain",
            "windows_domain",
            "ntlm",
            "kerberos",
            "ntlmv2",
            "require_smb_signing",
            "minimum_smb_version",
            "use_agentless_tracking",
        ],
    )
    // A domain account or a local one; the domain's kind cannot change after create.
    .at_most_one(&[["windows_ad_domain", "windows_domain"]])
    .tag_targets(),
    RecordType::new(
        "unix",
        Login::Required,
        &[
            "sub_type",
            "port",
            "cleartext_password",
            "skip_password",
            "target_type",
            "use_agentless_tracking",
            "agentless_tracking_path",
        ],
    )
    .secrets(&["enable_password", "expert_password"])
    .required(&["ips"])
    .tag_targets(),
    RecordType::new("network_ssh", Login::Required, &["port", "target_type", "cleartext_password"])
        .secrets(&["password2"]),
    RecordType::new(
        "oracle",
        Login::Required,
        &["sid", "servicename", "port", "is_cdb", "pc_only", "is_template", "template_auth_id"],
    )
    .secrets(&["cwallet", "ewallet", "passphrase"])
    .exactly_one(&[["sid", "servicename"]]),
    RecordType::new("oracle_listener", Login::Optional, PORT_ONLY),
    RecordType::new(
        "snmp",
        Login::Optional,
        &["version", "auth_alg", "priv_alg", "security_engine_id", "context_engine_id", "context"],
    )
    .secrets(&["community_strings", "encrypt_password"])
    .required(&["version"])
    .choices(&[("version", &["1", "2c", "3"])])
    .required_when(&[
        ("version", "1", "community_strings"),
        ("version", "2c", "community_strings"),
        ("version", "3", "username"),
        ("version", "3", "password"),
        ("version", "3", "auth_alg"),
    ]),
    RecordType::new(
        "ms_sql",
        Login::Required,
        &[
            "db_local",
            "windows_domain",
            "auth_os_type",
            "instance",
            "auto_discover_instances",
            "database",
            "auto_discover_databases",
            "port",
            "auto_discover_ports",
            "member_domain",
            "kerberos",
            "ntlmv2",
            "ntlmv1",
            "mssql_unix_insta_path",
            "mssql_unix_conf_path",
        ],
    )
    .required_when(DB_LOCAL),
    RecordType::new("azure_ms_sql", Login::Optional, PORT_ONLY),
    RecordType::new(
        "mysql",
        Login::Required,
        &["database", "port", "ssl_verify", "hosts", "windows_config_file", "unix_config_file", "client_cert"],
    )
    .secrets(&["client_key"]),
    RecordType::new(
        "mariadb",
        Login::Required,
        &["database", "port", "ssl_verify", "hosts", "windows_config_file", "unix_config_file", "client_cert"],
    )
    .secrets(&["client_key"]),
    RecordType::new(
        "postgresql",
        Login::Required,
        &["pgsql_db_name", "port", "pgsql_win_conf_path", "pgsql_unix_conf_path", "ssl_verify", "hosts", "client_cert"],
    )
    .secrets(&["client_key", "passphrase"])
    .required(&["pgsql_db_name", "port"]),
    RecordType::new(
        "sybase",
        Login::Required,
        &["port", "database", "auto_discover_databases", "installation_dir", "password_encryption"],
    )
    .required(&["port", "database"]),
    RecordType::new("ibm_db2", Login::Required, &["database", "port", "pc_only", "win_db2dir", "unix_db2dir"])
        .required(&["port", "database"]),
    RecordType::new("informixdb", Login::Required, PORT_ONLY),
    RecordType::new(
        "mongodb",
        Login::Required,
        &[
            "unix_conf_file",
            "database_name",
            "port",
            "ssl_verify",
            "hosts",
            "credential_type",
            "cleartext",
            "is_template",
            "template_auth_id",
        ],
    ),
    RecordType::new("cassandra", Login::Optional, PORT_ONLY).secrets(&["certificate", "private_key"]),
    RecordType::new("datastax", Login::Required, PORT_ONLY),
    RecordType::new("greenplum", Login::Optional, PORT_ONLY),
    RecordType::new("marklogic", Login::Optional, PORT_ONLY),
    RecordType::new("neo4j", Login::Required, PORT_ONLY),
    RecordType::new("sapiq", Login::Required, PORT_ONLY),
    RecordType::new("sap_hana", Login::Required, PORT_ONLY),
    RecordType::new("vmware", Login::Required, &["port", "hosts", "ssl_verify", "is_disconnect"]),
    RecordType::new("vcenter", Login::Required, &["port", "hosts", "ssl_verify", "is_disconnect"]),
    RecordType::new("nsx", Login::Required, &["port", "hosts", "ssl_verify_with_host", "use_ad_hashicorp"])
        .required(&["ips"])
        .vault_only("hashicorp"),
    RecordType::new("http", Login::Required, &["vhost", "realm", "ssl"]).exactly_one(&[["vhost", "realm"]]),
    RecordType::new(
        "apache",
        Login::None,
        &[
            "unix_apache_config_file",
            "unix_apache_control_command",
            "windows_apache_config_file",
            "windows_apache_control_command",
            "status",
        ],
    )
    .required(&["ips"]),
    RecordType::new("nginx", Login::Optional, APP_SERVER_STATUS),
    RecordType::new("ms_iis", Login::None, APP_SERVER_STATUS).required(&["ips"]),
    RecordType::new("ibm_websphere", Login::None, APP_SERVER_STATUS).required(&["ips"]),
    RecordType::new(
        "tomcat",
        Login::None,
        &[
            "installation_path",
            "instance_path",
            "auto_discover_instances",
            "installation_path_windows",
            "instance_path_windows",
            "service_name",
            "status",
        ],
    )
    .required(&["ips"]),
    RecordType::new("oracle_weblogic", Login::Optional, APP_SERVER_STATUS),
    RecordType::new("oracle_http_server", Login::Optional, &[]),
    RecordType::new("jboss", Login::Optional, APP_SERVER_STATUS),
    RecordType::new("kubernetes", Login::None, &["unix_bin_path", "unix_conf_path"]).required(&["ips"]),
    RecordType::new("docker", Login::None, &["docker_deamon_conf_file", "docker_command"]).required(&["ips"]),
    RecordType::new("palo_alto_firewall", Login::Required, &[]),
    RecordType::new("cisco_apic", Login::Required, &["port", "ssl_verify", "use_ad_hashicorp"])
        .secrets(&["certificate", "privatekey"])
        .required(&["ips", "port"]),
    RecordType::new("infoblox", Login::Required, &["api_version", "ssl_verify"]).required(&[
        "ips",
        "api_version",
        "ssl_verify",
    ]),
    RecordType::new("bind", Login::Optional, &[]),
    RecordType::new("microsoft_sharepoint", Login::Required, &["db_local", "windows_domain"]).required_when(DB_LOCAL),
    RecordType::new("ms_exchange", Login::None, &[]).required(&["ips"]),
];

pub(crate) fn record_type(slug: &str) -> Option<&'static RecordType> {
    RECORD_TYPES.iter().find(|t| t.slug == slug)
}

pub(crate) fn is_record_type(slug: &str) -> bool {
    record_type(slug).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_card_lists_42_types_each_once() {
        let mut slugs: Vec<&str> = RECORD_TYPES.iter().map(|t| t.slug).collect();
        assert_eq!(slugs.len(), 42);
        slugs.sort_unstable();
        slugs.dedup();
        assert_eq!(slugs.len(), 42);
    }

    #[test]
    fn secret_parameters_are_declared_secret_and_never_plain() {
        for t in RECORD_TYPES {
            for secret in t.secrets {
                assert!(SECRETS.contains(secret), "{}: {secret} is not in SECRETS", t.slug);
            }
            for param in t.params.iter().chain(t.required).chain(LOGIN_PARAMS) {
                assert!(!SECRETS.contains(param), "{}: {param} would be listed", t.slug);
            }
        }
    }
}
