using System.Globalization;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Fleet.Web.Auth;

/// <summary>A token row as authentication needs it.</summary>
public sealed record ApiTokenRecord(int Id, string Name, string Role, int? DepartmentId, bool CanWrite, DateTimeOffset ExpiresAt, DateTimeOffset? RevokedAt);

/// <summary>
/// Bearer tokens for integrations: <c>Authorization: Bearer fleet_…</c> on <c>/api</c> paths. A token signs the request
/// in with the same claims a session cookie carries (role, department, name), so every role- and department-scoped
/// policy applies to it unchanged. The user id claim is 0: a token is no user (audit entries name it token#id).
/// Only the SHA-256 of a token is stored. A read-only token may only GET (and HEAD/OPTIONS).
/// </summary>
public static partial class ApiTokenAuthentication
{
    public const string Scheme = "FleetToken";

    /// <summary>The default scheme: a bearer request to /api goes to <see cref="Scheme"/>, everything else to the cookie.</summary>
    public const string SelectorScheme = "FleetCookieOrToken";

    public const string TokenPrefix = "fleet_";

    /// <summary>Claim with the token's id; present only on token principals.</summary>
    public const string TokenIdClaim = "fleet:api_token_id";

    /// <summary>"true" when the token may write.</summary>
    public const string CanWriteClaim = "fleet:api_token_write";

    /// <summary>Registers the scheme and makes the cookie-or-token selector the default. Call after AddFleetAuth.</summary>
    public static IServiceCollection AddFleetApiTokens(this IServiceCollection services)
    {
        services.AddSingleton<ApiTokenStore>();
        services.AddAuthentication()
            .AddScheme<AuthenticationSchemeOptions, ApiTokenAuthenticationHandler>(Scheme, null)
            .AddPolicyScheme(SelectorScheme, null, options => options.ForwardDefaultSelector = context =>
                IsApi(context.Request) && BearerToken(context.Request) is not null ? Scheme : CookieAuthenticationDefaults.AuthenticationScheme);
        services.Configure<AuthenticationOptions>(options =>
        {
            options.DefaultScheme = SelectorScheme;
            options.DefaultSignInScheme = CookieAuthenticationDefaults.AuthenticationScheme;
            options.DefaultSignOutScheme = CookieAuthenticationDefaults.AuthenticationScheme;
        });
        return services;
    }

    /// <summary>A new secret: the prefix and 32 random bytes, base64url. About 43 characters after the prefix.</summary>
    public static string NewToken() => TokenPrefix + Base64UrlNoPadding(RandomNumberGenerator.GetBytes(32));

    public static byte[] Hash(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));

    internal static bool IsApi(HttpRequest request) => request.Path.StartsWithSegments("/api", StringComparison.OrdinalIgnoreCase);

    /// <summary>The token of an <c>Authorization: Bearer</c> header, or null when there is none.</summary>
    internal static string? BearerToken(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        return header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header["Bearer ".Length..].Trim() : null;
    }

    private static string Base64UrlNoPadding(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}

/// <summary>Looks tokens up by hash and notes when they were last used.</summary>
public sealed class ApiTokenStore(NpgsqlDataSource db)
{
    public async Task<ApiTokenRecord?> FindAsync(string token, CancellationToken ct)
    {
        await using var command = db.CreateCommand(
            "SELECT id, name, role, department_id, can_write, expires_at, revoked_at FROM api_tokens WHERE token_hash = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = ApiTokenAuthentication.Hash(token) });
        await using var reader = await command.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct))
        {
            return null;
        }

        return new ApiTokenRecord(
            reader.GetInt32(0),
            reader.GetString(1),
            reader.GetString(2),
            reader.IsDBNull(3) ? null : reader.GetInt32(3),
            reader.GetBoolean(4),
            reader.GetFieldValue<DateTimeOffset>(5),
            reader.IsDBNull(6) ? null : reader.GetFieldValue<DateTimeOffset>(6));
    }

    /// <summary>At most one write a minute per token, so a busy integration does not write on every request.</summary>
    public async Task TouchAsync(int id, DateTimeOffset now, CancellationToken ct)
    {
        await using var command = db.CreateCommand(
            "UPDATE api_tokens SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2 - interval '1 minute')");
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        command.Parameters.Add(new NpgsqlParameter { Value = now.ToUniversalTime() });
        await command.ExecuteNonQueryAsync(ct);
    }
}

/// <summary>
/// The <see cref="ApiTokenAuthentication.Scheme"/> handler. Unknown, revoked and expired tokens fail (401 with the
/// reason). A read-only token used for anything but GET/HEAD/OPTIONS also fails, and its challenge answers 403: the
/// token is valid, it just may not write.
/// </summary>
public sealed partial class ApiTokenAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory loggerFactory,
    UrlEncoder encoder,
    ApiTokenStore store,
    TimeProvider time)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, loggerFactory, encoder)
{
    private const string ReadOnlyFailure = "read-only";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (!ApiTokenAuthentication.IsApi(Request) || ApiTokenAuthentication.BearerToken(Request) is not { } token)
        {
            return AuthenticateResult.NoResult();
        }

        // Bounded before hashing and looking up; anything else cannot be one of ours.
        if (token.Length is < 20 or > 200 || !token.StartsWith(ApiTokenAuthentication.TokenPrefix, StringComparison.Ordinal))
        {
            return AuthenticateResult.Fail("The bearer token is not a Fleet API token.");
        }

        var now = time.GetUtcNow();
        var record = await store.FindAsync(token, Context.RequestAborted);
        if (record is null)
        {
            return AuthenticateResult.Fail("The API token is unknown.");
        }

        if (record.RevokedAt is not null)
        {
            LogRefused(Logger, record.Id, "revoked");
            return AuthenticateResult.Fail("The API token has been revoked.");
        }

        if (record.ExpiresAt <= now)
        {
            LogRefused(Logger, record.Id, "expired");
            return AuthenticateResult.Fail("The API token has expired.");
        }

        if (!record.CanWrite && !(HttpMethods.IsGet(Request.Method) || HttpMethods.IsHead(Request.Method) || HttpMethods.IsOptions(Request.Method)))
        {
            LogRefused(Logger, record.Id, "read-only");
            return AuthenticateResult.Fail(ReadOnlyFailure);
        }

        await store.TouchAsync(record.Id, now, Context.RequestAborted);
        var id = record.Id.ToString(CultureInfo.InvariantCulture);
        var claims = new List<Claim>
        {
            new(ClaimTypes.NameIdentifier, "0"),
            new(ClaimTypes.Name, "token#" + id),
            new(ClaimTypes.Role, record.Role),
            new(FleetClaims.DisplayName, record.Name),
            new(FleetClaims.Locale, "zh-CN"),
            new(ApiTokenAuthentication.TokenIdClaim, id),
            new(ApiTokenAuthentication.CanWriteClaim, record.CanWrite ? "true" : "false"),
        };
        if (record.DepartmentId is { } department)
        {
            claims.Add(new Claim(FleetClaims.DepartmentId, department.ToString(CultureInfo.InvariantCulture)));
        }

        var principal = new ClaimsPrincipal(new ClaimsIdentity(claims, ApiTokenAuthentication.Scheme));
        return AuthenticateResult.Success(new AuthenticationTicket(principal, ApiTokenAuthentication.Scheme));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var result = await HandleAuthenticateOnceSafeAsync();
        if (result.Failure?.Message == ReadOnlyFailure)
        {
            await WriteProblemAsync(StatusCodes.Status403Forbidden, "只读令牌不能修改数据", "This API token is read-only: it may only GET. Ask an administrator for a token with write access.");
            return;
        }

        Response.Headers.WWWAuthenticate = "Bearer error=\"invalid_token\"";
        await WriteProblemAsync(StatusCodes.Status401Unauthorized, "令牌无效", (result.Failure?.Message ?? "A valid API token is required.") + " Ask an administrator for a new token.");
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        WriteProblemAsync(StatusCodes.Status403Forbidden, "无权访问", "This API token's role does not allow this operation.");

    private async Task WriteProblemAsync(int status, string title, string detail)
    {
        Response.StatusCode = status;
        await Context.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
        {
            HttpContext = Context,
            ProblemDetails = new ProblemDetails { Status = status, Title = title, Detail = detail },
        });
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "API token {TokenId} refused: {Reason}")]
    private static partial void LogRefused(ILogger logger, int tokenId, string reason);
}
