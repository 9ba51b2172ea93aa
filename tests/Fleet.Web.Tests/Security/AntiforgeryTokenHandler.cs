using Fleet.Web.Auth;

namespace Fleet.Web.Tests.Security;

/// <summary>
/// Does for a test's session client what ui/api.ts does for the page: keeps the antiforgery token that the login and
/// <c>/api/auth/me</c> responses hand out, and sends it with every unsafe request that does not set one itself.
/// Tests of the check itself use a client without this handler.
/// </summary>
internal sealed class AntiforgeryTokenHandler(HttpMessageHandler inner) : DelegatingHandler(inner)
{
    private volatile string? _token;

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var safe = request.Method == HttpMethod.Get || request.Method == HttpMethod.Head || request.Method == HttpMethod.Options;
        if (!safe && _token is { } token && !request.Headers.Contains(SessionAntiforgery.HeaderName))
        {
            request.Headers.Add(SessionAntiforgery.HeaderName, token);
        }

        var response = await base.SendAsync(request, cancellationToken);
        if (response.Headers.TryGetValues(SessionAntiforgery.HeaderName, out var values) && values.FirstOrDefault() is { } issued)
        {
            _token = issued;
        }

        return response;
    }
}
