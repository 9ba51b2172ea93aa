using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Fleet.Web.Tests.Platform;

namespace Fleet.Web.Tests.Admin;

/// <summary>Calls the admin tests share: the audit log read as a list, users created through the API, bearer requests.</summary>
internal static class AdminKit
{
    /// <summary>The entries of <c>GET /api/audit{query}</c> (asserting 200), newest first.</summary>
    public static async Task<List<JsonElement>> AuditAsync(this HttpClient client, string query, CancellationToken ct)
    {
        var response = await client.GetApiAsync("/api/audit" + query, ct);
        Assert.True(response.Status == HttpStatusCode.OK, $"GET /api/audit{query}: {response.Status} {response.Body}");
        return [.. response.Body.GetProperty("items").EnumerateArray()];
    }

    public static string Action(this JsonElement entry) => entry.GetProperty("action").GetString()!;

    /// <summary>Creates a user through the API as <paramref name="admin"/>; returns its id.</summary>
    public static async Task<int> CreateUserAsync(this HttpClient admin, string username, string password, string role, int? departmentId, CancellationToken ct)
    {
        var created = await admin.SendJsonAsync(HttpMethod.Post, "/api/admin/users", new { username, displayName = "测试用户 " + username, password, role, departmentId }, ct);
        Assert.True(created.Status == HttpStatusCode.Created, $"creating {username}: {created.Status} {created.Body}");
        return created.Body.GetProperty("id").GetInt32();
    }

    /// <summary>A request with <c>Authorization: Bearer</c> and no cookie.</summary>
    public static async Task<ApiResponse> BearerAsync(this FleetHost host, HttpMethod method, string url, string token, object? body, CancellationToken ct)
    {
        using var client = new HttpClient { BaseAddress = host.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        using var request = new HttpRequestMessage(method, url) { Content = body is null ? null : System.Net.Http.Json.JsonContent.Create(body) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await client.SendAsync(request, ct);
        return await ApiResponse.ReadAsync(response, ct);
    }

    /// <summary>A unique name for a user or token made by one test.</summary>
    public static string Unique(string prefix) => $"{prefix}.{Guid.NewGuid():N}"[..(prefix.Length + 9)];
}
