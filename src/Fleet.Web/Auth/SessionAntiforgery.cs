using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.SignalR;

namespace Fleet.Web.Auth;

/// <summary>
/// Antiforgery for cookie sessions: an unsafe request (POST, PUT, PATCH, DELETE, …) that the session cookie
/// authenticates must carry the session's token in <see cref="HeaderName"/>, or it is refused with 403.
/// <para>
/// The token is a random value made at login and kept as a claim inside the session ticket (a synchronizer token
/// bound to the session): the cookie is encrypted and HttpOnly, so only a script of this origin can learn the token,
/// from the <see cref="HeaderName"/> response header of <c>POST /api/auth/login</c> or <c>GET /api/auth/me</c>.
/// A cross-site form or fetch rides on the cookie but cannot read either, nor set a custom header without CORS.
/// This is used rather than <c>IAntiforgery</c> because that one binds its token to the user as it was when the token
/// was made, so a token handed out by the login response (made while still anonymous) would fail the next request.
/// </para>
/// <para>
/// The check keys on the cookie scheme, not on "any signed-in user": a request authenticated some other way (an API
/// token in the Authorization header, which a browser never adds by itself) needs no antiforgery token. Exempt are
/// safe methods, endpoints marked with <see cref="WithoutSessionAntiforgery"/> (the login), the SignalR hub's own
/// endpoints (negotiate and transports: the hub only reads, and each call is rechecked against the session), and
/// requests that match no endpoint (they change nothing and end in 404/405).
/// </para>
/// </summary>
public static partial class SessionAntiforgery
{
    public const string HeaderName = "X-Fleet-Antiforgery";

    public const string TokenClaim = "fleet:antiforgery";

    /// <summary>A fresh claim for a new session's principal.</summary>
    public static Claim NewClaim() => new(TokenClaim, Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)));

    /// <summary>Hands the session's token to the page (the login and <c>me</c> responses); kept out of caches.</summary>
    public static void Issue(HttpResponse response, ClaimsPrincipal principal)
    {
        if (principal.FindFirstValue(TokenClaim) is { } token)
        {
            response.Headers[HeaderName] = token;
            response.Headers.CacheControl = "no-store";
        }
    }

    /// <summary>Exempts an endpoint from the check (the login, which has no session yet).</summary>
    public static TBuilder WithoutSessionAntiforgery<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder => builder.WithMetadata(Exempt.Instance);

    /// <summary>Adds the check; goes after authentication and authorization, so a forbidden call stays a plain 403.</summary>
    public static IApplicationBuilder UseSessionAntiforgery(this IApplicationBuilder app) => app.Use(CheckAsync);

    private static async Task CheckAsync(HttpContext context, RequestDelegate next)
    {
        var (needs, expected) = await NeedsTokenAsync(context);
        if (!needs || Matches(context.Request, expected))
        {
            await next(context);
            return;
        }

        var logger = context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(SessionAntiforgery));
        LogRefused(logger, context.Request.Method, context.Request.Path, context.User.Identity?.Name, context.Request.Headers.ContainsKey(HeaderName));
        await TypedResults.Problem(
            $"A change made with a session cookie must carry the {HeaderName} header with the token from GET /api/auth/me or the login response; it was missing or wrong. Reload the page, or sign in again.",
            statusCode: StatusCodes.Status403Forbidden,
            title: "请求校验失败，请刷新页面后重试").ExecuteAsync(context);
    }

    private static async Task<(bool Needs, string? Expected)> NeedsTokenAsync(HttpContext context)
    {
        var method = context.Request.Method;
        if (HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsOptions(method) || HttpMethods.IsTrace(method))
        {
            return (false, null);
        }

        var endpoint = context.GetEndpoint();
        if (endpoint is null || endpoint.Metadata.GetMetadata<Exempt>() is not null || endpoint.Metadata.GetMetadata<HubMetadata>() is not null)
        {
            return (false, null);
        }

        // The handler caches its result for the request, so this repeats neither the decryption nor the session query.
        var cookie = await context.AuthenticateAsync(CookieAuthenticationDefaults.AuthenticationScheme);
        return cookie is { Succeeded: true, Principal: { } principal } ? (true, principal.FindFirstValue(TokenClaim)) : (false, null);
    }

    private static bool Matches(HttpRequest request, string? expected)
    {
        // A session without a token (made before this check existed) fails closed: signing in again gives one.
        if (expected is null || request.Headers[HeaderName] is not [{ } sent])
        {
            return false;
        }

        return CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(sent), Encoding.UTF8.GetBytes(expected));
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refused {Method} {Path} by {Username}: antiforgery token missing or wrong (header present: {HeaderPresent})")]
    private static partial void LogRefused(ILogger logger, string method, PathString path, string? username, bool headerPresent);

    /// <summary>Endpoint metadata: no antiforgery check.</summary>
    private sealed class Exempt
    {
        public static readonly Exempt Instance = new();
    }
}
