package config

// SSOSettings configure single sign-on: OpenID Connect, SAML 2.0, and
// whether password sign-in stays open beside them.
type SSOSettings struct {
	OIDCEnabled          *Setting[bool]
	OIDCIssuerURL        *Setting[string]
	OIDCClientID         *Setting[string]
	OIDCClientSecret     *Setting[Secret]
	OIDCScopes           *Setting[string]
	OIDCButtonLabel      *Setting[string]
	OIDCRoleClaim        *Setting[string]
	OIDCAdminValues      *Setting[string]
	OIDCMaintainerValues *Setting[string]
	OIDCAllowedDomains   *Setting[string]
	OIDCAutoCreate       *Setting[bool]

	SAMLEnabled          *Setting[bool]
	SAMLIdPMetadataURL   *Setting[string]
	SAMLIdPMetadataXML   *Setting[string]
	SAMLSPEntityID       *Setting[string]
	SAMLEmailAttribute   *Setting[string]
	SAMLRoleAttribute    *Setting[string]
	SAMLAdminValues      *Setting[string]
	SAMLMaintainerValues *Setting[string]
	SAMLAllowedDomains   *Setting[string]

	// LocalLoginEnabled false refuses password sign-in through the API;
	// the command line (rookery user ...) stays the recovery path.
	LocalLoginEnabled *Setting[bool]
}

func newSSOSettings() SSOSettings {
	return SSOSettings{
		OIDCEnabled: Bool("oidc_enabled", Security, Default("false"),
			Describe("Offer sign-in through an OpenID Connect provider (needs public_url and the sso_integration licence feature)")),
		// The issuer carries the client secret: discovery at the issuer
		// names the token endpoint the secret is sent to.
		OIDCIssuerURL: String("oidc_issuer_url", Security,
			Describe("OpenID Connect issuer URL (https://idp.example.com/realms/main); its discovery document names every endpoint"),
			Validate(Optional(SecureURL())), Carries("oidc_client_secret")),
		OIDCClientID:     String("oidc_client_id", Security, Describe("Client id registered at the OpenID Connect provider")),
		OIDCClientSecret: SecretString("oidc_client_secret", Security, Describe("Client secret registered at the OpenID Connect provider")),
		OIDCScopes: String("oidc_scopes", Security, Default("openid email profile"),
			Describe("Space-separated scopes asked of the provider; openid is always asked"),
			Validate(Regex(`^[\x21\x23-\x5B\x5D-\x7E]+( [\x21\x23-\x5B\x5D-\x7E]+)*$`, "scope names separated by single spaces"))),
		OIDCButtonLabel: String("oidc_button_label", Security, Default("Sign in with SSO"),
			Describe("Text of the single sign-on button on the login page"),
			Validate(Regex(`^\S.{0,58}\S$|^\S$`, "1 to 60 characters, not starting or ending with a space"))),
		OIDCRoleClaim: String("oidc_role_claim", Security, Default("groups"),
			Describe("ID token or userinfo claim whose values decide the role (a string or a list of strings)"),
			Validate(Regex(`^[A-Za-z0-9_.:/-]{1,100}$`, "a claim name: letters, digits and _ . : / -"))),
		OIDCAdminValues: String("oidc_admin_values", Security,
			Describe("Comma-separated values of the role claim that make a user admin")),
		OIDCMaintainerValues: String("oidc_maintainer_values", Security,
			Describe("Comma-separated values of the role claim that make a user maintainer; everyone else is viewer")),
		OIDCAllowedDomains: String("oidc_allowed_domains", Security,
			Describe("Comma-separated email domains allowed to sign in (example.com); empty allows any"),
			Validate(Optional(Regex(`^\s*[A-Za-z0-9.-]+\s*(,\s*[A-Za-z0-9.-]+\s*)*$`, "domain names separated by commas")))),
		OIDCAutoCreate: Bool("oidc_auto_create", Security, Default("true"),
			Describe("Create the account at a user's first single sign-on, through OIDC or SAML; false admits only existing accounts")),

		SAMLEnabled: Bool("saml_enabled", Security, Default("false"),
			Describe("Offer sign-in through a SAML 2.0 identity provider (needs public_url and the custom_saml licence feature)")),
		SAMLIdPMetadataURL: String("saml_idp_metadata_url", Security,
			Describe("URL of the identity provider's SAML metadata; used when saml_idp_metadata_xml is empty"),
			Validate(Optional(SecureURL()))),
		SAMLIdPMetadataXML: String("saml_idp_metadata_xml", Security,
			Describe("The identity provider's SAML metadata XML, pasted; wins over saml_idp_metadata_url")),
		SAMLSPEntityID: String("saml_sp_entity_id", Security,
			Describe("This service provider's entity id; empty means public_url + /api/v1/auth/saml/metadata")),
		SAMLEmailAttribute: String("saml_email_attribute", Security,
			Describe("Assertion attribute holding the email address; empty uses the NameID")),
		SAMLRoleAttribute: String("saml_role_attribute", Security,
			Describe("Assertion attribute whose values decide the role")),
		SAMLAdminValues: String("saml_admin_values", Security,
			Describe("Comma-separated values of the role attribute that make a user admin")),
		SAMLMaintainerValues: String("saml_maintainer_values", Security,
			Describe("Comma-separated values of the role attribute that make a user maintainer; everyone else is viewer")),
		SAMLAllowedDomains: String("saml_allowed_domains", Security,
			Describe("Comma-separated email domains allowed to sign in through SAML (example.com); empty allows any"),
			Validate(Optional(Regex(`^\s*[A-Za-z0-9.-]+\s*(,\s*[A-Za-z0-9.-]+\s*)*$`, "domain names separated by commas")))),

		LocalLoginEnabled: Bool("local_login_enabled", Security, Default("true"),
			Describe("Allow sign-in with email and password; when false only single sign-on signs in (the rookery user command stays the recovery path)")),
	}
}
