using System.Globalization;
using System.Security.Claims;
using System.Threading.RateLimiting;
using Fleet.Web.Api;
using Fleet.Web.Audit;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Fleet.Web.Auth;

/// <summary>
/// Cookie sessions for the users table: <c>POST /api/auth/login</c>, <c>POST /api/auth/logout</c>,
/// <c>GET /api/auth/me</c>, the role policies, and 401/403 as ProblemDetails for API calls (never a redirect).
/// </summary>
public static partial class AuthApi
{
    public const string LoginRateLimit = "login";
    public const string CookieName = "fleet_session";

    public static IServiceCollection AddFleetAuth(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<FleetAuthOptions>()
            .Bind(configuration.GetSection(FleetAuthOptions.Section))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IPasswordHasher<Account>, PasswordHasher<Account>>();
        services.AddSingleton<AccountStore>();

        services.AddAuthentication(CookieAuthenticationDefaults.AuthenticationScheme)
            .AddCookie(options =>
            {
                options.Cookie.Name = CookieName;
                options.Cookie.HttpOnly = true;
                options.Cookie.SameSite = SameSiteMode.Lax;
                options.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
                options.SlidingExpiration = true;
                options.LoginPath = "/login";
                options.Events = new CookieAuthenticationEvents
                {
                    // Browsers go to the login page; API callers get ProblemDetails; hub clients cannot follow a
                    // redirect either, so they get the bare status code.
                    OnRedirectToLogin = context => IsHub(context.Request) ? StatusAsync(context.Response, StatusCodes.Status401Unauthorized)
                        : IsApi(context.Request) ? WriteProblemAsync(context.HttpContext, StatusCodes.Status401Unauthorized, "未登录", "Sign in first: this API needs a session (POST /api/auth/login).")
                        : RedirectAsync(context),
                    OnRedirectToAccessDenied = context => IsHub(context.Request) ? StatusAsync(context.Response, StatusCodes.Status403Forbidden)
                        : IsApi(context.Request) ? WriteProblemAsync(context.HttpContext, StatusCodes.Status403Forbidden, "无权访问", "Your role does not allow this operation.")
                        : RedirectAsync(context),
                    OnValidatePrincipal = ValidateSessionAsync,
                };
            });
        services.AddOptions<CookieAuthenticationOptions>(CookieAuthenticationDefaults.AuthenticationScheme)
            .Configure<IOptions<FleetAuthOptions>>((cookie, auth) => cookie.ExpireTimeSpan = TimeSpan.FromHours(auth.Value.SessionHours));

        services.AddAuthorizationBuilder()
            .AddPolicy(FleetPolicies.Registry, policy => policy.RequireAuthenticatedUser().RequireRole(FleetRoles.All))
            .AddPolicy(FleetPolicies.TelemetryRejects, policy => policy.RequireAuthenticatedUser().RequireRole(FleetRoles.Admin, FleetRoles.Supervisor));

        services.AddRateLimiter(limiter =>
        {
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            // Per client IP. Behind a reverse proxy this needs the forwarded-headers middleware, or every client
            // shares the proxy's address.
            limiter.AddPolicy(LoginRateLimit, context => RateLimitPartition.GetFixedWindowLimiter(
                context.Connection.RemoteIpAddress?.ToString() ?? "unknown",
                _ => new FixedWindowRateLimiterOptions
                {
                    PermitLimit = context.RequestServices.GetRequiredService<IOptions<FleetAuthOptions>>().Value.LoginPermitsPerMinute,
                    Window = TimeSpan.FromMinutes(1),
                    QueueLimit = 0,
                }));
            limiter.OnRejected = async (context, ct) =>
            {
                if (context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter))
                {
                    context.HttpContext.Response.Headers.RetryAfter = ((int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
                }

                await WriteProblemAsync(context.HttpContext, StatusCodes.Status429TooManyRequests, "登录尝试过于频繁", "Too many sign-in attempts from this address; wait a minute and try again.");
            };
        });
        return services;
    }

    public static IEndpointRouteBuilder MapAuthApi(this IEndpointRouteBuilder endpoints)
    {
        var auth = endpoints.MapGroup("/api/auth");
        auth.MapPost("/login", LoginAsync).AllowAnonymous().RequireRateLimiting(LoginRateLimit).WithoutSessionAntiforgery();
        auth.MapPost("/logout", LogoutAsync).AllowAnonymous();
        auth.MapGet("/me", Me).RequireAuthorization(FleetPolicies.Registry);
        return endpoints;
    }

    private static async Task<IResult> LoginAsync(LoginRequest? request, HttpContext http, AccountStore accounts, AuditLog audit, CancellationToken ct)
    {
        var errors = new FieldErrors();
        var username = errors.Text("username", request?.Username, 64)?.ToLowerInvariant();
        if (username is null && !errors.HasErrors)
        {
            errors.Add("username", "Required.");
        }

        // Bounded so nobody makes the server hash a megabyte; not trimmed, spaces may be part of a password.
        var password = request?.Password;
        if (string.IsNullOrEmpty(password))
        {
            errors.Add("password", "Required.");
        }
        else if (password.Length > 256)
        {
            errors.Add("password", "At most 256 characters.");
        }

        if (errors.HasErrors)
        {
            return Problems.Validation(errors.Errors);
        }

        var outcome = await accounts.LoginAsync(username!, password!, ct);
        // Not the request's token: a client that hangs up at once must not keep its failed attempt out of the log.
        await audit.WriteAsync(LoginAuditEntry(http, username!, outcome), CancellationToken.None);
        switch (outcome)
        {
            case LoginOutcome.Succeeded(var account):
                var user = new CurrentUser(account.Username, account.DisplayName, account.Role, account.DepartmentId, account.RegionId, account.Locale);
                var principal = CreatePrincipal(account.Id, user);
                await http.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme, principal);
                SessionAntiforgery.Issue(http.Response, principal);
                return TypedResults.Ok(user);
            case LoginOutcome.LockedOut(var until, _):
                var local = TimeZoneInfo.ConvertTime(until, ShanghaiTime.Zone);
                return TypedResults.Problem(
                    string.Create(CultureInfo.InvariantCulture, $"The account is locked until {local:yyyy-MM-dd'T'HH:mm:sszzz} after too many wrong passwords; try again then or ask an administrator."),
                    statusCode: StatusCodes.Status423Locked,
                    title: string.Create(CultureInfo.InvariantCulture, $"账户已锁定，请于 {local:HH:mm} 后重试"),
                    extensions: new Dictionary<string, object?> { ["lockedUntil"] = local });
            case LoginOutcome.Disabled:
                return TypedResults.Problem("This account is disabled; ask an administrator.", statusCode: StatusCodes.Status403Forbidden, title: "账户已停用");
            default:
                return TypedResults.Problem("The username or password is incorrect.", statusCode: StatusCodes.Status401Unauthorized, title: "用户名或密码错误");
        }
    }

    private static async Task<NoContent> LogoutAsync(HttpContext http, AuditLog audit, ILoggerFactory loggers, CancellationToken ct)
    {
        if (http.User.Identity is { IsAuthenticated: true, Name: { } username })
        {
            var logger = loggers.CreateLogger(typeof(AuthApi));
            LogSignedOut(logger, username);
            await audit.WriteAsync(new AuditEntry(AuditActor.Of(http), AuditActions.Logout), CancellationToken.None);
        }

        await http.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
        return TypedResults.NoContent();
    }

    // A failed login names its actor by what was typed (the account may not exist), with no target; a success targets
    // the user by id, as the user administration entries do.
    private static AuditEntry LoginAuditEntry(HttpContext http, string username, LoginOutcome outcome)
    {
        AuditEntry Failed(string action, Dictionary<string, object?> details) =>
            new(AuditActor.Anonymous(http, username), action, Details: details);

        return outcome switch
        {
            LoginOutcome.Succeeded(var a) => new AuditEntry(
                AuditActor.User(http, a.Id, a.Username, a.Role, a.DepartmentId), AuditActions.LoginSucceeded, AuditTargets.User, a.Id.ToString(CultureInfo.InvariantCulture)),
            LoginOutcome.LockedOut(var until, true) => Failed(AuditActions.LockedOut, new() { ["lockedUntil"] = until }),
            LoginOutcome.LockedOut(var until, false) => Failed(AuditActions.LoginFailed, new() { ["reason"] = "locked", ["lockedUntil"] = until }),
            LoginOutcome.Disabled => Failed(AuditActions.LoginFailed, new() { ["reason"] = "disabled" }),
            _ => Failed(AuditActions.LoginFailed, new() { ["reason"] = "invalid_credentials" }),
        };
    }

    private static Ok<CurrentUser> Me(ClaimsPrincipal principal, HttpResponse response)
    {
        SessionAntiforgery.Issue(response, principal);
        return TypedResults.Ok(CurrentUserOf(principal));
    }

    private static CurrentUser CurrentUserOf(ClaimsPrincipal principal) => new(
        principal.FindFirstValue(ClaimTypes.Name) ?? "",
        principal.FindFirstValue(FleetClaims.DisplayName) ?? "",
        principal.FindFirstValue(ClaimTypes.Role) ?? "",
        ParseOptional(principal.FindFirstValue(FleetClaims.DepartmentId)),
        ParseOptional(principal.FindFirstValue(FleetClaims.RegionId)),
        principal.FindFirstValue(FleetClaims.Locale) ?? "zh-CN");

    private static ClaimsPrincipal CreatePrincipal(int userId, CurrentUser user)
    {
        var claims = new List<Claim>
        {
            new(ClaimTypes.NameIdentifier, userId.ToString(CultureInfo.InvariantCulture)),
            new(ClaimTypes.Name, user.Username),
            new(ClaimTypes.Role, user.Role),
            new(FleetClaims.DisplayName, user.DisplayName),
            new(FleetClaims.Locale, user.Locale),
            SessionAntiforgery.NewClaim(),
        };
        if (user.DepartmentId is { } department)
        {
            claims.Add(new Claim(FleetClaims.DepartmentId, department.ToString(CultureInfo.InvariantCulture)));
        }

        if (user.RegionId is { } region)
        {
            claims.Add(new Claim(FleetClaims.RegionId, region.ToString(CultureInfo.InvariantCulture)));
        }

        return new ClaimsPrincipal(new ClaimsIdentity(claims, CookieAuthenticationDefaults.AuthenticationScheme));
    }

    private static async Task ValidateSessionAsync(CookieValidatePrincipalContext context)
    {
        var scope = context.Principal is { } principal ? UserScope.FromPrincipal(principal) : null;
        var accounts = context.HttpContext.RequestServices.GetRequiredService<AccountStore>();
        if (scope is null || !await accounts.IsSessionCurrentAsync(scope, context.Properties.IssuedUtc, context.HttpContext.RequestAborted))
        {
            context.RejectPrincipal();
            await context.HttpContext.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
        }
    }

    private static bool IsApi(HttpRequest request) => request.Path.StartsWithSegments("/api", StringComparison.OrdinalIgnoreCase);

    private static bool IsHub(HttpRequest request) => request.Path.StartsWithSegments("/hubs", StringComparison.OrdinalIgnoreCase);

    private static Task StatusAsync(HttpResponse response, int status)
    {
        response.StatusCode = status;
        return Task.CompletedTask;
    }

    private static Task RedirectAsync(RedirectContext<CookieAuthenticationOptions> context)
    {
        context.Response.Redirect(context.RedirectUri);
        return Task.CompletedTask;
    }

    private static async Task WriteProblemAsync(HttpContext http, int status, string title, string detail)
    {
        http.Response.StatusCode = status;
        await http.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            ProblemDetails = new ProblemDetails { Status = status, Title = title, Detail = detail },
        });
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "User {Username} signed out")]
    private static partial void LogSignedOut(ILogger logger, string username);

    private static int? ParseOptional(string? value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) ? parsed : null;
}
