using Fleet.Web.Auth;
using Fleet.Web.Tests.Browser;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Fleet.Web.Tests.Security;

/// <summary>
/// The map page in a real headless Chromium under the antiforgery check: the sign-out button still works, because
/// ui/api.ts keeps the token from the login response and sends it; a change without it is refused in the browser too.
/// </summary>
public sealed class LogoutBrowserTests(SecurityFleet fleet) : IClassFixture<SecurityFleet>
{
    static LogoutBrowserTests() => SetDefaultExpectTimeout(15_000);

    [Fact(Timeout = 90_000)]
    public async Task The_map_page_signs_out_with_the_antiforgery_header_and_a_bare_post_is_refused()
    {
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = MapBrowserFleet.Chromium,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
        await using var context = await browser.NewContextAsync(new BrowserNewContextOptions { Locale = "zh-CN" });
        var page = await context.NewPageAsync();
        var errors = new List<string>();
        page.PageError += (_, message) => errors.Add(message);

        await page.GotoAsync(fleet.Host.BaseAddress.ToString());
        await page.FillAsync("#login-username", "dispatcher");
        await page.FillAsync("#login-password", fleet.Fleet.Passwords["dispatcher"]);
        await page.ClickAsync("#login-submit");
        await Expect(page.Locator("#app")).ToBeVisibleAsync();

        // A script that does not send the token (as a forged cross-site request could not) changes nothing.
        var bare = await page.EvaluateAsync<int>("() => fetch('/api/auth/logout', { method: 'POST' }).then(r => r.status)");
        Assert.Equal(403, bare);
        Assert.Equal(200, await page.EvaluateAsync<int>("() => fetch('/api/auth/me').then(r => r.status)"));

        var logout = await page.RunAndWaitForResponseAsync(
            () => page.ClickAsync("#logout"),
            response => response.Url.EndsWith("/api/auth/logout", StringComparison.Ordinal));

        Assert.Equal(204, logout.Status);
        var sent = await logout.Request.HeaderValueAsync(SessionAntiforgery.HeaderName);
        Assert.False(string.IsNullOrEmpty(sent));
        await Expect(page.Locator("#login-form")).ToBeVisibleAsync();
        Assert.Equal(401, await page.EvaluateAsync<int>("() => fetch('/api/auth/me').then(r => r.status)"));
        Assert.Empty(errors);
    }
}
