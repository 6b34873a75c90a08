//! The authentication record types, with what each create call takes. Qualys documents these
//! parameters per type (scanning-config cards, Card A); a list element is the parameter's name
//! upper-cased. Whatever a record holds outside its type's allow-list is reported as a loss,
//! never copied blindly. Types marked UNVERIFIED in the card keep a minimal list.

/// How records of a type log in to what they scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Login {
    /// No credentials of its own: it uses the host's Unix or Windows record (application
    /// servers, Docker, Kubernetes, Exchange).
    Host,
    /// A username and a password, or a vault.
    Password,
    /// SNMP: community strings (v1, v2c), or a v3 user with an authentication password and an
    /// optional privacy (encryption) password.
    Snmp,
}

/// One record type.
#[derive(Debug)]
pub struct AuthType {
    /// The slug in the API path: `/api/2.0/fo/auth/<slug>/`.
    pub slug: &'static str,
    /// The root of its list document: `AUTH_UNIX_LIST_OUTPUT`.
    pub root: &'static str,
    /// Its records in that document: `AUTH_UNIX`.
    pub record: &'static str,
    pub login: Login,
    /// Non-secret parameters beyond the ones every type takes.
    pub params: &'static [&'static str],
    /// Secret parameters the create call takes as form fields.
    pub secrets: &'static [&'static str],
}

macro_rules! auth_types {
    ($($slug:literal $upper:literal $login:ident [$($param:literal),*] [$($secret:literal),*];)*) => {
        pub const TYPES: &[AuthType] = &[$(AuthType {
            slug: $slug,
            root: concat!("AUTH_", $upper, "_LIST_OUTPUT"),
            record: concat!("AUTH_", $upper),
            login: Login::$login,
            params: &[$($param),*],
            secrets: &[$($secret),*],
        }),*];
        /// The roots of the per-type list documents, for the export reader.
        pub const LIST_ROOTS: &[&str] = &[$(concat!("AUTH_", $upper, "_LIST_OUTPUT")),*];
        /// Where their records are.
        pub const RECORD_PATHS: &[&str] = &[$(concat!("RESPONSE/AUTH_", $upper, "_LIST/AUTH_", $upper)),*];
    };
}

auth_types! {
    "unix" "UNIX" Password
        ["sub_type", "port", "cleartext_password", "skip_password", "target_type", "use_agentless_tracking",
         "agentless_tracking_path", "tag_include_selector", "tag_exclude_selector"]
        ["password", "enable_password", "expert_password"];
    "windows" "WINDOWS" Password
        ["windows_ad_domain", "windows_domain", "ntlm", "kerberos", "ntlmv2", "require_smb_signing",
         "minimum_smb_version", "target_type", "use_agentless_tracking", "tag_include_selector",
         "tag_exclude_selector"]
        ["password"];
    "network_ssh" "NETWORK_SSH" Password ["port", "target_type", "cleartext_password"] ["password", "password2"];
    "oracle" "ORACLE" Password ["sid", "servicename", "port", "is_cdb", "pc_only", "is_template"] ["password"];
    "oracle_listener" "ORACLE_LISTENER" Password ["port"] ["password"];
    "snmp" "SNMP" Snmp
        ["version", "auth_alg", "priv_alg", "security_engine_id", "context_engine_id", "context"]
        ["community_strings", "password", "encrypt_password"];
    "ms_sql" "MS_SQL" Password
        ["db_local", "windows_domain", "auth_os_type", "instance", "auto_discover_instances", "database",
         "auto_discover_databases", "port", "auto_discover_ports", "member_domain", "kerberos", "ntlmv2", "ntlmv1",
         "mssql_unix_insta_path", "mssql_unix_conf_path"]
        ["password"];
    "azure_ms_sql" "AZURE_MS_SQL" Password ["database", "port"] ["password"];
    "mysql" "MYSQL" Password
        ["database", "port", "ssl_verify", "hosts", "windows_config_file", "unix_config_file", "client_cert"]
        ["password", "client_key"];
    "mariadb" "MARIADB" Password
        ["database", "port", "ssl_verify", "hosts", "windows_config_file", "unix_config_file", "client_cert"]
        ["password", "client_key"];
    "postgresql" "POSTGRESQL" Password
        ["pgsql_db_name", "port", "pgsql_win_conf_path", "pgsql_unix_conf_path", "ssl_verify", "hosts", "client_cert"]
        ["password", "client_key", "passphrase"];
    "sybase" "SYBASE" Password
        ["port", "database", "auto_discover_databases", "installation_dir", "password_encryption"]
        ["password"];
    "ibm_db2" "IBM_DB2" Password ["database", "port", "pc_only", "win_db2dir", "unix_db2dir"] ["password"];
    "informixdb" "INFORMIXDB" Password ["port"] ["password"];
    "mongodb" "MONGODB" Password
        ["unix_conf_file", "database_name", "port", "ssl_verify", "hosts", "credential_type", "cleartext",
         "is_template"]
        ["password"];
    "cassandra" "CASSANDRA" Password ["port"] ["password"];
    "datastax" "DATASTAX" Password ["port"] ["password"];
    "greenplum" "GREENPLUM" Password ["port"] ["password"];
    "marklogic" "MARKLOGIC" Password ["port"] ["password"];
    "neo4j" "NEO4J" Password ["port"] ["password"];
    "sapiq" "SAPIQ" Password ["port"] ["password"];
    "sap_hana" "SAP_HANA" Password ["port"] ["password"];
    "vmware" "VMWARE" Password ["port", "hosts", "ssl_verify", "is_disconnect"] ["password"];
    "vcenter" "VCENTER" Password ["port", "hosts", "ssl_verify", "is_disconnect"] ["password"];
    "nsx" "NSX" Password ["port", "hosts", "ssl_verify_with_host", "use_ad_hashicorp"] ["password"];
    "http" "HTTP" Password ["vhost", "realm", "ssl"] ["password"];
    "apache" "APACHE" Host
        ["unix_apache_config_file", "unix_apache_control_command", "windows_apache_config_file",
         "windows_apache_control_command", "status"]
        [];
    "nginx" "NGINX" Host [] [];
    "ms_iis" "MS_IIS" Host ["status"] [];
    "ibm_websphere" "IBM_WEBSPHERE" Host ["status"] [];
    "tomcat" "TOMCAT" Host
        ["installation_path", "instance_path", "auto_discover_instances", "installation_path_windows",
         "instance_path_windows", "service_name", "status"]
        [];
    "oracle_weblogic" "ORACLE_WEBLOGIC" Host [] [];
    "oracle_http_server" "ORACLE_HTTP_SERVER" Password ["port"] ["password"];
    "jboss" "JBOSS" Host [] [];
    "kubernetes" "KUBERNETES" Host ["unix_bin_path", "unix_conf_path"] [];
    "docker" "DOCKER" Host ["docker_deamon_conf_file", "docker_command"] [];
    "palo_alto_firewall" "PALO_ALTO_FIREWALL" Password ["port"] ["password"];
    "cisco_apic" "CISCO_APIC" Password ["port", "ssl_verify", "use_ad_hashicorp"] ["password"];
    "infoblox" "INFOBLOX" Password ["api_version", "ssl_verify"] ["password"];
    "bind" "BIND" Password ["port"] ["password"];
    "microsoft_sharepoint" "MICROSOFT_SHAREPOINT" Password ["db_local", "windows_domain"] ["password"];
    "ms_exchange" "MS_EXCHANGE" Host [] [];
}

/// Parameters every type takes (the vault ones apply when `login_type=vault`).
pub const COMMON_PARAMS: &[&str] = &[
    "username",
    "login_type",
    "vault_type",
    "ak_secret_name",
    "system_name",
    "account_name",
    "end_point_name",
    "vault_service_type",
    "folder",
    "file",
];

/// Secrets the create call would need in an XML body whose format is not verified (Unix private
/// keys and certificates, root delegation), or that no form parameter carries: never sent from
/// the export; the record is created by hand unless a vault holds them.
pub const XML_ONLY_ELEMENTS: &[&str] = &[
    "PRIVATE_KEY",
    "PRIVATE_KEYS",
    "PRIVATE_KEY_CERTIFICATE",
    "CERTIFICATES",
    "ROOT_DELEGATION",
    "ROOT_DELEGATIONS",
    "ROOT_TOOL",
    "ROOT_TOOLS",
    "WALLET",
    "CWALLET",
    "EWALLET",
];

/// Parameters that are secrets in any type: a capture holding one of them with a value is
/// refused, so that a secret that leaked into an export never reaches the bundle.
pub const SECRET_ELEMENTS: &[&str] = &[
    "PASSWORD",
    "ENABLE_PASSWORD",
    "EXPERT_PASSWORD",
    "PASSWORD2",
    "COMMUNITY_STRINGS",
    "ENCRYPT_PASSWORD",
    "PASSPHRASE",
    "CLIENT_KEY",
    "PRIVATEKEY",
];

pub fn by_slug(slug: &str) -> Option<&'static AuthType> {
    TYPES.iter().find(|t| t.slug == slug)
}

pub fn by_root(root: &str) -> Option<&'static AuthType> {
    TYPES.iter().find(|t| t.root == root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_has_its_own_slug_and_root() {
        assert_eq!(TYPES.len(), 42);
        let slugs: std::collections::BTreeSet<_> = TYPES.iter().map(|t| t.slug).collect();
        assert_eq!(slugs.len(), TYPES.len());
        assert_eq!(by_root("AUTH_MS_SQL_LIST_OUTPUT").map(|t| t.record), Some("AUTH_MS_SQL"));
        for t in TYPES {
            assert_eq!(t.root, format!("AUTH_{}_LIST_OUTPUT", t.slug.to_ascii_uppercase()));
            assert_eq!(t.login == Login::Host, t.secrets.is_empty(), "{}", t.slug);
        }
    }
}
