using Microsoft.Extensions.FileProviders;
using Microsoft.Net.Http.Headers;

namespace Fleet.Web.Site;

/// <summary>
/// Serves the map page: <c>/</c> is <c>index.html</c> and <c>/dist/*</c> the bundle that <c>npm run build</c> writes
/// (the MSBuild target in Fleet.Web.csproj runs it). The folder is <c>Fleet:Ui:WebRoot</c> when set, else the content
/// root's <c>wwwroot</c> (./fleet up runs from src/Fleet.Web), else the <c>wwwroot</c> copied next to the binaries.
/// Static files are public: the page itself holds no data, and every API call it makes needs a session.
/// </summary>
public static partial class FleetUi
{
    public const string WebRootSetting = "Fleet:Ui:WebRoot";

    // The page and the bundle change with every build and carry no hash in their names, so browsers revalidate them
    // (a cheap 304 by ETag) instead of running yesterday's script against today's API.
    private const string Revalidate = "no-cache";

    // Tiles may come from any configured server (img-src); everything else only from this site. The inline style
    // attributes come from Leaflet, which positions tiles and panes with them.
    private const string ContentSecurityPolicy =
        "default-src 'self'; img-src 'self' data: blob: https: http:; style-src 'self' 'unsafe-inline'; "
        + "connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action 'self'";

    public static IApplicationBuilder UseFleetUi(this WebApplication app)
    {
        var root = FindWebRoot(app.Configuration, app.Environment);
        if (root is null)
        {
            LogNoWebRoot(app.Logger, WebRootSetting);
            return app;
        }

        var files = new PhysicalFileProvider(root);
        app.UseDefaultFiles(new DefaultFilesOptions { FileProvider = files });
        app.UseStaticFiles(new StaticFileOptions
        {
            FileProvider = files,
            OnPrepareResponse = context =>
            {
                var headers = context.Context.Response.Headers;
                headers.CacheControl = Revalidate;
                headers.XContentTypeOptions = "nosniff";
                if (context.File.Name.EndsWith(".html", StringComparison.OrdinalIgnoreCase))
                {
                    headers.ContentSecurityPolicy = ContentSecurityPolicy;
                    headers[HeaderNames.XFrameOptions] = "DENY";
                    headers["Referrer-Policy"] = "same-origin";
                }
            },
        });
        return app;
    }

    /// <summary>The first candidate folder that holds index.html, or null.</summary>
    public static string? FindWebRoot(IConfiguration configuration, IWebHostEnvironment environment)
    {
        string?[] candidates =
        [
            configuration[WebRootSetting],
            Path.Combine(environment.ContentRootPath, "wwwroot"),
            Path.Combine(AppContext.BaseDirectory, "wwwroot"),
        ];
        return candidates
            .Where(c => !string.IsNullOrWhiteSpace(c))
            .Select(c => Path.GetFullPath(c!))
            .FirstOrDefault(c => File.Exists(Path.Combine(c, "index.html")));
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "No web root with index.html found (set {Setting}, or build src/Fleet.Web); the map page is not served")]
    private static partial void LogNoWebRoot(ILogger logger, string setting);
}
