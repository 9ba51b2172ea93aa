using System.Net;
using System.Reflection;
using System.Text;
using System.Text.Json;
using Fleet.Web.Auth;
using Fleet.Web.Tests.SignalR;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.DependencyInjection;

namespace Fleet.Web.Tests.Security;

/// <summary>
/// Runs every <see cref="AccessMatrix.Rows"/> row for every caller against the real host and PostgreSQL, and checks
/// that the matrix covers every endpoint and hub method the app has (so a new endpoint without a row fails).
/// </summary>
public sealed class AccessMatrixTests(SecurityFleet fleet) : IClassFixture<SecurityFleet>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<string> RowKeys => new(AccessMatrix.Rows.Select(r => r.Key));

    [Theory(Timeout = 120_000)]
    [MemberData(nameof(RowKeys))]
    public async Task Each_caller_gets_the_status_its_row_gives(string key)
    {
        var row = AccessMatrix.Rows.Single(r => r.Key == key);
        var mismatches = new List<string>();
        for (var column = 0; column < Caller.Columns.Count; column++)
        {
            var caller = Caller.Columns[column];
            var (status, detail) = row switch
            {
                RestRow rest => await SendAsync(rest, caller),
                HubRow hub => await InvokeAsync(hub, caller),
                _ => throw new InvalidOperationException(row.GetType().Name),
            };
            if (status != row.Statuses[column])
            {
                mismatches.Add($"{caller}: expected {row.Statuses[column]}, got {status} {detail}");
            }
        }

        Assert.True(mismatches.Count == 0, $"{key}:\n" + string.Join("\n", mismatches));
    }

    [Fact(Timeout = 30_000)]
    public void Every_endpoint_and_hub_method_has_exactly_one_well_formed_row()
    {
        var needed = new SortedSet<string>(StringComparer.Ordinal);
        var hubs = new Dictionary<string, Type>(StringComparer.Ordinal);
        foreach (var endpoint in fleet.Host.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>())
        {
            var route = AccessMatrix.Normalize(endpoint.RoutePattern.RawText ?? "");
            if (endpoint.Metadata.GetMetadata<HubMetadata>() is { } hub)
            {
                // The hub's HTTP doors: negotiate is a row of its own; the transport is covered by its methods' rows.
                if (route.EndsWith("/negotiate", StringComparison.Ordinal))
                {
                    needed.Add($"POST {route}");
                    hubs[route[..^"/negotiate".Length]] = hub.HubType;
                }

                continue;
            }

            // An endpoint for any method (the health checks) is a read: its GET row stands for it.
            foreach (var method in endpoint.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["GET"])
            {
                needed.Add($"{method} {route}");
            }
        }

        foreach (var (path, type) in hubs)
        {
            foreach (var method in HubMethods(type))
            {
                needed.Add($"hub {path} {method}");
            }
        }

        var keys = AccessMatrix.Rows.Select(r => r.Key).ToList();
        var missing = needed.Except(keys).ToList();
        Assert.True(missing.Count == 0, "No row in Security/AccessMatrix.cs for:\n" + string.Join("\n", missing.Select(m => $"  {m}")));
        var stale = keys.Except(needed).ToList();
        Assert.True(stale.Count == 0, "Rows for what the app does not have:\n" + string.Join("\n", stale));
        Assert.Equal(keys.Count, keys.Distinct().Count());
        Assert.All(AccessMatrix.Rows, row => Assert.True(row.Statuses.Count == Caller.Columns.Count, $"{row.Key}: {row.Statuses.Count} statuses for {Caller.Columns.Count} columns"));
        Assert.All(AccessMatrix.Rows.OfType<RestRow>(), row => Assert.True(row.Path is not null || !row.Route.Contains('{', StringComparison.Ordinal), $"{row.Key} needs a sample path"));
        Assert.True(needed.Count >= 20, $"only {needed.Count} endpoints found: is the data source the app's?");
    }

    [Fact(Timeout = 30_000)]
    public void The_hub_method_list_finds_the_live_hub_methods_and_not_the_lifecycle_ones()
    {
        var methods = HubMethods(typeof(Fleet.Web.Live.LiveFrameHub)).ToList();

        Assert.Contains("Subscribe", methods);
        Assert.Contains("Unsubscribe", methods);
        Assert.DoesNotContain("OnDisconnectedAsync", methods);
    }

    /// <summary>The methods a client can invoke: public instance methods of the hub class and its own bases, not Hub's.</summary>
    private static IEnumerable<string> HubMethods(Type hub) =>
        hub.GetMethods(BindingFlags.Public | BindingFlags.Instance)
            .Where(m => !m.IsSpecialName && m.GetBaseDefinition().DeclaringType is { } declared
                && declared != typeof(object) && declared != typeof(Hub) && !declared.IsGenericType)
            .Select(m => m.Name)
            .Distinct();

    private async Task<(int Status, string Detail)> SendAsync(RestRow row, Caller caller)
    {
        HttpClient client;
        string? token = null;
        if (caller.Username is null)
        {
            client = fleet.Host.CreateSessionClient();
        }
        else
        {
            (client, token) = row.OwnSession
                ? await fleet.FreshSessionAsync(caller.Username, Ct)
                : await fleet.SessionAsync(caller.Username, Ct);
        }

        using var request = new HttpRequestMessage(new HttpMethod(row.Method), fleet.Resolve(row.Path ?? row.Route));
        if (row.Body is not null)
        {
            request.Content = new StringContent(fleet.Resolve(row.Body), Encoding.UTF8, "application/json");
        }

        if (token is not null)
        {
            request.Headers.Add(SessionAntiforgery.HeaderName, token);
        }

        using var response = await client.SendAsync(request, Ct);
        var body = await response.Content.ReadAsStringAsync(Ct);
        var status = (int)response.StatusCode;
        // A refusal from the API is always ProblemDetails, never an empty body or a redirect.
        if (status >= 400 && request.RequestUri!.OriginalString.StartsWith("/api/", StringComparison.Ordinal))
        {
            Assert.True(response.Content.Headers.ContentType?.MediaType == "application/problem+json", $"{row.Key} as {caller}: {status} without ProblemDetails: {body}");
        }

        return (status, body.Length > 300 ? body[..300] : body);
    }

    private async Task<(int Status, string Detail)> InvokeAsync(HubRow row, Caller caller)
    {
        if (caller.Username is null)
        {
            var refused = await Assert.ThrowsAsync<SignalRNegotiateException>(() => SignalRJsonClient.NegotiateAsync(fleet.Host.BaseAddress, row.HubPath, null, Ct));
            return ((int)refused.Status, refused.Message);
        }

        var cookie = await fleet.CookieAsync(caller.Username, Ct);
        await using var client = await SignalRJsonClient.ConnectAsync(fleet.Host.BaseAddress, row.HubPath, cookie, Ct);
        var arguments = JsonDocument.Parse(fleet.Resolve(row.Arguments)).RootElement.EnumerateArray().Select(a => (object?)a.Clone()).ToArray();
        try
        {
            await client.InvokeAsync(row.Method, arguments, Ct);
            return (200, "");
        }
        catch (HubInvocationException ex)
        {
            // SignalR prefixes a HubException's message with "An unexpected error occurred invoking …".
            return (ex.Message.EndsWith("HubException: forbidden", StringComparison.Ordinal) ? 403 : 400, ex.Message);
        }
    }
}
