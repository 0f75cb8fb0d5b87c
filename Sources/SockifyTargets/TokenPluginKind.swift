// The token plugins websockify 0.13.0 ships (`websockify/token_plugins.py`), as `--token-plugin` names them.

/// A token plugin of `websockify.token_plugins`, named the way `--token-plugin` accepts it.
///
/// websockify imports any `module.Class`; Sockify implements plugins natively, so only these names exist.
public enum TokenPluginKind: String, CaseIterable, Hashable, Sendable {
    /// `BasePlugin`: every lookup returns "not found".
    case basePlugin = "BasePlugin"
    /// `ReadOnlyTokenFile`: a token file or directory (same behaviour as ``tokenFile`` under websockify's
    /// process-per-connection model).
    case readOnlyTokenFile = "ReadOnlyTokenFile"
    /// `TokenFile`: a token file or directory, re-read when it changes. `--target-config` selects it.
    case tokenFile = "TokenFile"
    /// `TokenFileName`: a directory; the token is a file name whose content is `host:port`.
    case tokenFileName = "TokenFileName"
    /// `BaseTokenAPI`: HTTP GET of a URL template; the body is `host:port`.
    case baseTokenAPI = "BaseTokenAPI"
    /// `JSONTokenApi`: HTTP GET of a URL template; the body is `{"host": …, "port": …}`.
    case jsonTokenAPI = "JSONTokenApi"
    /// `JWTTokenApi`: the token is a JWT/JWE verified with a key file.
    case jwtTokenAPI = "JWTTokenApi"
    /// `TokenRedis`: `GET <namespace><token>` from Redis.
    case tokenRedis = "TokenRedis"
    /// `UnixDomainSocketDirectory`: the token is a socket path inside a directory.
    case unixDomainSocketDirectory = "UnixDomainSocketDirectory"

    /// The Python module websockify prefixes to a name without a dot.
    public static let moduleName = "websockify.token_plugins"

    /// The plugin for a `--token-plugin` value: a bare class name (`TokenFile`) or the dotted form
    /// (`websockify.token_plugins.TokenFile`). Case-sensitive, like Python attribute lookup.
    ///
    /// - Parameter className: the option's value.
    public init?(className: String) {
        let qualified = className.contains(".") ? className : Self.moduleName + "." + className
        guard qualified.hasPrefix(Self.moduleName + "."),
            let kind = Self(rawValue: String(qualified.dropFirst(Self.moduleName.count + 1)))
        else { return nil }
        self = kind
    }
}
