using System.Globalization;
using System.Text.Json;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Fleet.Web.Tests.Browser;

/// <summary>
/// The live map page in a real headless Chromium against the real host: sign in through the form, vehicles drawn on
/// the canvas from the hub's snapshot, a click on one opens its panel with today's track, the language switch, and
/// the REST fallback when the hub cannot be reached.
/// </summary>
public sealed class MapPageTests(MapBrowserFleet fleet) : IClassFixture<MapBrowserFleet>
{
    private static readonly Dictionary<string, (string Zh, string En)> Categories = new(StringComparer.Ordinal)
    {
        ["general"] = ("一般公务用车", "General official vehicle"),
        ["confidential_comms"] = ("机要通信用车", "Confidential communications"),
        ["emergency"] = ("应急保障用车", "Emergency support"),
        ["law_enforcement"] = ("执法执勤用车", "Law enforcement"),
        ["special_technical"] = ("特种专业技术用车", "Special technical"),
        ["leader"] = ("领导干部用车", "Leadership vehicle"),
        ["directed_support"] = ("定向化保障用车", "Directed support"),
    };

    static MapPageTests() => SetDefaultExpectTimeout(15_000);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 60_000)]
    public async Task Supervisor_signs_in_sees_every_reporting_vehicle_opens_one_with_its_track_and_switches_to_English()
    {
        var (context, page, errors) = await OpenAsync();
        await using var _ = context;
        await SignInAsync(page, "supervisor");

        // Drawn = every vehicle with a live state = the stats' total minus the ones with none (unknown).
        await Expect(page.Locator("#map")).ToHaveAttributeAsync("data-live-mode", "hub");
        var stats = await page.EvaluateAsync<JsonElement>("() => fetch('/api/stats/live').then(r => r.json())");
        var drawn = stats.GetProperty("total").GetInt32() - stats.GetProperty("unknown").GetInt32();
        Assert.Equal(MapBrowserFleet.Reporting, drawn);
        Assert.Equal(fleet.Vehicles.Count, stats.GetProperty("total").GetInt32());
        await Expect(page.Locator("#map")).ToHaveAttributeAsync("data-vehicle-count", Text(drawn));
        await Expect(page.Locator("#count-on-map")).ToHaveTextAsync(Text(drawn));
        await Expect(page.Locator("#count-total")).ToHaveTextAsync(Text(fleet.Vehicles.Count));
        await Expect(page.Locator("#count-unknown")).ToHaveTextAsync(Text(fleet.Vehicles.Count - MapBrowserFleet.Reporting));
        await Expect(page.Locator("#count-moving")).ToHaveTextAsync(Text((MapBrowserFleet.Reporting + 2) / 3));
        await Expect(page.Locator(".legend")).ToContainTextAsync("行驶");
        await SaveScreenshotAsync(page, "map-overview-zh");

        // A click on the vehicle's pixel opens its panel: plate, Chinese category, today's track as a polyline.
        var vehicle = fleet.Vehicles[0];
        var pixel = await page.EvaluateAsync<JsonElement>("id => window.fleetMap.pixelOf(id)", vehicle.Id);
        Assert.True(pixel.GetProperty("inView").GetBoolean(), $"vehicle {vehicle.Id} is in view: {pixel}");
        await page.Mouse.ClickAsync((float)pixel.GetProperty("x").GetDouble(), (float)pixel.GetProperty("y").GetDouble());

        var panel = page.Locator("#panel");
        await Expect(panel).ToBeVisibleAsync();
        await Expect(panel).ToHaveAttributeAsync("data-vehicle-id", Text(vehicle.Id));
        await Expect(page.Locator("#v-plate")).ToHaveTextAsync(vehicle.Plate);
        await Expect(page.Locator("#v-category")).ToHaveTextAsync(Categories[vehicle.Category].Zh);
        await Expect(page.Locator("#v-driver")).ToHaveTextAsync("—");
        await Expect(page.Locator("#v-speed")).ToHaveTextAsync("42 km/h");
        await Expect(page.Locator("#v-state")).ToHaveTextAsync("行驶");
        var positions = await fleet.TodaysPositionsAsync(vehicle.Id, Ct);
        Assert.Equal(MapBrowserFleet.TrackPoints + 1, positions); // the written track and the live fix
        await Expect(panel).ToHaveAttributeAsync("data-track-points", Text(positions));
        await Expect(page.Locator("#track-summary")).ToHaveTextAsync($"{positions} 个轨迹点");
        await Expect(page.Locator("path.fleet-track")).ToHaveCountAsync(1);
        Assert.Matches(@"^M[\d.-]+ [\d.-]+(L[\d.-]+ [\d.-]+)+", await page.Locator("path.fleet-track").GetAttributeAsync("d") ?? "");
        await Expect(page.Locator("#replay-play")).ToBeEnabledAsync();
        await Expect(page.Locator("#replay-from")).ToHaveValueAsync(new System.Text.RegularExpressions.Regex(@"^\d{4}-\d{2}-\d{2}T00:00$"));
        File.Copy(await SaveScreenshotAsync(page, "map-panel-zh"), "/tmp/fleet-map.png", overwrite: true);

        // The language switch: the page, the panel and the legend in English; kept for the next visit.
        await page.SelectOptionAsync("#language", "en");
        await Expect(page.Locator("html")).ToHaveAttributeAsync("lang", "en");
        await Expect(page.Locator("#v-category")).ToHaveTextAsync(Categories[vehicle.Category].En);
        await Expect(page.Locator("#v-state")).ToHaveTextAsync("Moving");
        await Expect(page.Locator(".legend")).ToContainTextAsync("Parked");
        await Expect(page.Locator("#stats")).ToContainTextAsync("On map");
        await Expect(page.Locator("#track-summary")).ToHaveTextAsync($"{positions} track points");
        await Expect(page.Locator("#panel-title")).ToHaveTextAsync("Vehicle");
        Assert.Equal("en", await page.EvaluateAsync<string>("() => localStorage.getItem('fleet.locale')"));

        await SaveScreenshotAsync(page, "map-panel-en");
        Assert.Empty(errors);
    }

    [Fact(Timeout = 60_000)]
    public async Task Without_the_hub_the_page_falls_back_to_the_REST_API_and_still_draws_every_vehicle()
    {
        var (context, page, errors) = await OpenAsync();
        await using var _ = context;
        // The hub is unreachable (as when it is down or not deployed): negotiation and transports fail.
        await page.RouteAsync("**/hubs/live**", route => route.AbortAsync());
        await SignInAsync(page, "supervisor");

        await Expect(page.Locator("#map")).ToHaveAttributeAsync("data-live-mode", "rest");
        await Expect(page.Locator("#map")).ToHaveAttributeAsync("data-vehicle-count", Text(MapBrowserFleet.Reporting));
        await Expect(page.Locator("#live-status")).ToHaveTextAsync("轮询");

        // The state filter narrows what is drawn: only the moving third.
        await page.SelectOptionAsync("#filter-state", "moving");
        await Expect(page.Locator("#map")).ToHaveAttributeAsync("data-vehicle-count", Text((MapBrowserFleet.Reporting + 2) / 3));
        Assert.Empty(errors);
    }

    private Task<(IBrowserContext Context, IPage Page, List<string> Errors)> OpenAsync() => BrowserPages.OpenAsync(fleet.Browser);

    private async Task SignInAsync(IPage page, string username)
    {
        await page.GotoAsync(fleet.Host.BaseAddress.ToString());
        await Expect(page.Locator("html")).ToHaveAttributeAsync("lang", "zh-CN");
        await Expect(page.Locator("#login-form")).ToBeVisibleAsync();
        await Expect(page.Locator("#login-submit")).ToHaveTextAsync("登录");
        await page.FillAsync("#login-username", username);
        await page.FillAsync("#login-password", fleet.Passwords[username]);
        await page.ClickAsync("#login-submit");
        await Expect(page.Locator("#app")).ToBeVisibleAsync();
        await Expect(page.Locator("#map")).ToHaveAttributeAsync("data-ready", "true");
    }

    /// <summary>Saves a screenshot under TestResults/screenshots and attaches it to the test result; returns its path.</summary>
    private static async Task<string> SaveScreenshotAsync(IPage page, string name)
    {
        var path = Path.Combine(TestPaths.Screenshots, $"{name}.png");
        var bytes = await page.ScreenshotAsync(new PageScreenshotOptions { Path = path });
        TestContext.Current.AddAttachment($"{name}.png", bytes, "image/png");
        TestContext.Current.TestOutputHelper?.WriteLine($"screenshot: {path}");
        return path;
    }

    private static string Text(long value) => value.ToString(CultureInfo.InvariantCulture);
}
