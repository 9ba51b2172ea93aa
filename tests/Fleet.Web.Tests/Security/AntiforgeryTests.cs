using System.Net;
using System.Net.Http.Json;
using System.Security.Claims;
using Fleet.Web.Auth;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Fleet.Web.Tests.Security;

/// <summary>
/// Cookie-authenticated changes need the session's <c>X-Fleet-Antiforgery</c> token; logins, reads and requests not
/// authenticated by the cookie do not. The clients here are plain ones, without <see cref="AntiforgeryTokenHandler"/>,
/// so they send the header only where a test says so.
/// </summary>
public sealed class AntiforgeryTests(SecurityFleet fleet) : IClassFixture<SecurityFleet>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 30_000)]
    public async Task Login_needs_no_token_and_hands_out_the_same_token_as_me()
    {
        using var client = PlainClient();

        using var login = await client.PostAsJsonAsync("/api/auth/login", new { username = "admin", password = fleet.Fleet.Passwords["admin"] }, Ct);

        Assert.Equal(HttpStatusCode.OK, login.StatusCode);
        var token = Assert.Single(login.Headers.GetValues(SessionAntiforgery.HeaderName));
        Assert.True(token.Length >= 40, token);
        using var me = await client.GetAsync("/api/auth/me", Ct);
        Assert.Equal(token, Assert.Single(me.Headers.GetValues(SessionAntiforgery.HeaderName)));
        Assert.Equal("no-store", me.Headers.CacheControl?.ToString());

        // Another session gets another token.
        using var other = PlainClient();
        using var otherLogin = await other.PostAsJsonAsync("/api/auth/login", new { username = "admin", password = fleet.Fleet.Passwords["admin"] }, Ct);
        Assert.NotEqual(token, Assert.Single(otherLogin.Headers.GetValues(SessionAntiforgery.HeaderName)));
    }

    [Fact(Timeout = 30_000)]
    public async Task A_cookie_change_without_the_token_or_with_a_wrong_one_is_refused_and_changes_nothing()
    {
        using var client = PlainClient();
        var token = await LoginAsync(client, "admin");
        using var otherClient = PlainClient();
        var otherToken = await LoginAsync(otherClient, "admin");
        var terminal = fleet.Resolve("{terminalB}");
        var hashBefore = await CredentialHashAsync(terminal);

        foreach (var sent in new[] { null, "", "wrong", otherToken, token + "x", (token[0] == 'A' ? "B" : "A") + token[1..] })
        {
            var refused = await SendAsync(client, HttpMethod.Post, $"/api/terminals/{terminal}/credential", sent);

            var problem = refused.AssertProblem(HttpStatusCode.Forbidden);
            Assert.Contains(SessionAntiforgery.HeaderName, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
            Assert.Contains("请求校验失败", problem.GetProperty("title").GetString(), StringComparison.Ordinal);
        }

        Assert.Equal(hashBefore, await CredentialHashAsync(terminal));

        // The right token: the change goes through.
        var rotated = await SendAsync(client, HttpMethod.Post, $"/api/terminals/{terminal}/credential", token);
        Assert.Equal(HttpStatusCode.OK, rotated.Status);
        Assert.NotEqual(hashBefore, await CredentialHashAsync(terminal));
    }

    [Fact(Timeout = 30_000)]
    public async Task Logout_needs_the_token_so_a_forged_logout_leaves_the_session_standing()
    {
        using var client = PlainClient();
        var token = await LoginAsync(client, "dispatcher");

        (await SendAsync(client, HttpMethod.Post, "/api/auth/logout", null)).AssertProblem(HttpStatusCode.Forbidden);
        Assert.Equal(HttpStatusCode.OK, (await client.GetApiAsync("/api/auth/me", Ct)).Status);

        Assert.Equal(HttpStatusCode.NoContent, (await SendAsync(client, HttpMethod.Post, "/api/auth/logout", token)).Status);
        (await client.GetApiAsync("/api/auth/me", Ct)).AssertProblem(HttpStatusCode.Unauthorized);
    }

    [Fact(Timeout = 30_000)]
    public async Task Reads_need_no_token_and_requests_without_a_session_get_401_not_an_antiforgery_error()
    {
        using var client = PlainClient();
        await LoginAsync(client, "supervisor");
        foreach (var url in new[] { "/api/vehicles", "/api/auth/me", "/api/telemetry/rejects", "/health" })
        {
            Assert.Equal(HttpStatusCode.OK, (await client.GetApiAsync(url, Ct)).Status);
        }

        using var anonymous = PlainClient();
        (await SendAsync(anonymous, HttpMethod.Post, "/api/terminals", null, """{"id":"T-anon"}""")).AssertProblem(HttpStatusCode.Unauthorized);
        // Anonymous logout is harmless and stays allowed.
        Assert.Equal(HttpStatusCode.NoContent, (await SendAsync(anonymous, HttpMethod.Post, "/api/auth/logout", null)).Status);
    }

    [Fact(Timeout = 30_000)]
    public async Task A_role_refusal_stays_a_plain_403_whatever_the_token()
    {
        using var client = PlainClient();
        await LoginAsync(client, "manager1");

        var refused = (await SendAsync(client, HttpMethod.Post, "/api/terminals", null, """{"id":"T-manager"}""")).AssertProblem(HttpStatusCode.Forbidden);

        // Authorization runs first: the caller learns that the role is not allowed, not that a token is missing.
        Assert.Equal("无权访问", refused.GetProperty("title").GetString());
    }

    [Fact(Timeout = 30_000)]
    public async Task A_change_authenticated_by_another_scheme_is_not_checked_but_one_by_the_cookie_is()
    {
        // The check in isolation: an identity from another scheme (an API token, say) and no session cookie.
        var services = new ServiceCollection().AddLogging().AddProblemDetails();
        services.AddAuthentication(CookieAuthenticationDefaults.AuthenticationScheme).AddCookie();
        await using var provider = services.BuildServiceProvider();
        var pipeline = new ApplicationBuilder(provider).UseSessionAntiforgery();
        pipeline.Run(context =>
        {
            context.Response.StatusCode = StatusCodes.Status204NoContent;
            return Task.CompletedTask;
        });
        var app = pipeline.Build();

        var context = new DefaultHttpContext { RequestServices = provider };
        context.Request.Method = "POST";
        context.SetEndpoint(new Endpoint(_ => Task.CompletedTask, new EndpointMetadataCollection(), "test"));
        context.User = new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Name, "integration")], "FleetToken"));

        await app(context);

        Assert.Equal(StatusCodes.Status204NoContent, context.Response.StatusCode);

        // The same request with the session cookie of a real sign-in, against the real host, is checked.
        using var client = PlainClient();
        await LoginAsync(client, "admin");
        (await SendAsync(client, HttpMethod.Patch, $"/api/terminals/{fleet.Resolve("{terminalB}")}", null, """{"enabled":true}""")).AssertProblem(HttpStatusCode.Forbidden);
    }

    /// <summary>A cookie-keeping client that sends no antiforgery header by itself.</summary>
    private HttpClient PlainClient() => new(new HttpClientHandler { CookieContainer = new CookieContainer(), UseCookies = true, AllowAutoRedirect = false })
    {
        BaseAddress = fleet.Host.BaseAddress,
        Timeout = TimeSpan.FromSeconds(30),
    };

    private async Task<string> LoginAsync(HttpClient client, string username)
    {
        using var login = await client.PostAsJsonAsync("/api/auth/login", new { username, password = fleet.Fleet.Passwords[username] }, Ct);
        Assert.Equal(HttpStatusCode.OK, login.StatusCode);
        return Assert.Single(login.Headers.GetValues(SessionAntiforgery.HeaderName));
    }

    private static async Task<ApiResponse> SendAsync(HttpClient client, HttpMethod method, string url, string? token, string? json = null)
    {
        using var request = new HttpRequestMessage(method, url);
        if (json is not null)
        {
            request.Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json");
        }

        if (token is not null)
        {
            request.Headers.TryAddWithoutValidation(SessionAntiforgery.HeaderName, token);
        }

        using var response = await client.SendAsync(request, Ct);
        return await ApiResponse.ReadAsync(response, Ct);
    }

    private async Task<string> CredentialHashAsync(string terminal)
    {
        await using var command = fleet.Fleet.Db.CreateCommand("SELECT credential_hash FROM terminals WHERE id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = terminal });
        return (string)(await command.ExecuteScalarAsync(Ct))!;
    }
}
