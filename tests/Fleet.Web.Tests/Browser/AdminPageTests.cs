using Fleet.TestSupport;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Fleet.Web.Tests.Browser;

/// <summary>The seeded host (SeededFleet) and one headless Chromium (Debian's) for the administration page tests.</summary>
public sealed class AdminBrowserFleet(PostgresFixture postgres) : IAsyncLifetime
{
    private IPlaywright? _playwright;
    private IBrowser? _browser;

    public SeededFleet Fleet { get; } = new(postgres);

    public IBrowser Browser => _browser ?? throw new InvalidOperationException("not initialised");

    public async ValueTask InitializeAsync()
    {
        if (!File.Exists(MapBrowserFleet.Chromium))
        {
            throw new InvalidOperationException($"{MapBrowserFleet.Chromium} is missing: run ./fleet setup (it installs Debian's chromium for the browser tests).");
        }

        await Fleet.InitializeAsync();
        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = MapBrowserFleet.Chromium,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
    }

    public async ValueTask DisposeAsync()
    {
        if (_browser is not null)
        {
            await _browser.DisposeAsync();
        }

        _playwright?.Dispose();
        await Fleet.DisposeAsync();
    }
}

/// <summary>
/// The administration page in a real Chromium against the real host: an administrator signs in on the map page, follows
/// the header link, creates a user, is told plainly when a username is taken, issues and revokes an API token (its
/// secret shown once), and finds the creation in the audit log; a supervisor gets the audit log alone.
/// </summary>
public sealed class AdminPageTests(AdminBrowserFleet browser) : IClassFixture<AdminBrowserFleet>
{
    static AdminPageTests() => SetDefaultExpectTimeout(15_000);

    [Fact(Timeout = 120_000)]
    public async Task Admin_creates_a_user_issues_and_revokes_a_token_and_sees_the_creation_in_the_audit_log()
    {
        var (context, page, errors) = await OpenAsync();
        await using var _ = context;
        await SignInAsync(page, "admin");

        await Expect(page.Locator("#admin-link")).ToBeVisibleAsync();
        await Expect(page.Locator("#admin-link")).ToHaveTextAsync("管理与审计");
        await page.ClickAsync("#admin-link");
        await Expect(page.Locator("body")).ToHaveAttributeAsync("data-ready", "true");
        await Expect(page.Locator("#page-users")).ToBeVisibleAsync();
        await Expect(page.Locator("#users-table tbody tr[data-username='manager1']")).ToHaveCountAsync(1);

        // A new user.
        var username = "browser." + Guid.NewGuid().ToString("N")[..6];
        await page.FillAsync("#user-username", username);
        await page.FillAsync("#user-display-name", "浏览器测试");
        await page.FillAsync("#user-password", "Browser-pass-2026");
        await page.SelectOptionAsync("#user-role", "requester");
        await page.SelectOptionAsync("#user-department", new SelectOptionValue { Index = 1 });
        await page.ClickAsync("#user-create");
        await Expect(page.Locator(".toast-success")).ToContainTextAsync(username);
        await page.FillAsync("#user-search", username);
        await page.ClickAsync("#user-filter button[type=submit]");
        var row = page.Locator($"#users-table tbody tr[data-username='{username}']");
        await Expect(row).ToContainTextAsync("浏览器测试");
        await Expect(row.Locator(".row-role")).ToHaveValueAsync("requester");

        // A taken username: the form says what is wrong.
        await page.FillAsync("#user-username", "manager1");
        await page.FillAsync("#user-display-name", "重复");
        await page.FillAsync("#user-password", "Browser-pass-2026");
        await page.SelectOptionAsync("#user-department", new SelectOptionValue { Index = 1 });
        await page.ClickAsync("#user-create");
        await Expect(page.Locator("#user-form-error")).ToBeVisibleAsync();
        await Expect(page.Locator("#user-form-error")).ToContainTextAsync("用户名已存在");
        await Expect(page.Locator("#user-form-error")).ToContainTextAsync("choose another username");

        // A token: the secret once, then revoked.
        await page.ClickAsync("#tab-tokens");
        await page.FillAsync("#token-name", "浏览器对接");
        await page.SelectOptionAsync("#token-role", "supervisor");
        await page.FillAsync("#token-days", "7");
        await page.ClickAsync("#token-create");
        await Expect(page.Locator("#token-secret-box")).ToBeVisibleAsync();
        var secret = await page.Locator("#token-secret").TextContentAsync() ?? "";
        Assert.StartsWith("fleet_", secret, StringComparison.Ordinal);
        var tokenRow = page.Locator("#tokens-table tbody tr", new PageLocatorOptions { HasText = "浏览器对接" });
        await Expect(tokenRow).ToContainTextAsync("有效");
        Assert.DoesNotContain(secret, await page.Locator("#tokens-table").InnerTextAsync(), StringComparison.Ordinal);
        page.Dialog += (_, dialog) => _ = dialog.AcceptAsync();
        await tokenRow.Locator(".row-revoke").ClickAsync();
        await Expect(tokenRow).ToContainTextAsync("已吊销");

        // The audit log shows the creation, by the admin.
        await page.ClickAsync("#tab-audit");
        await page.SelectOptionAsync("#audit-action", "user.created");
        await page.ClickAsync("#audit-search");
        var entry = page.Locator("#audit-table tbody tr[data-action='user.created']", new PageLocatorOptions { HasText = username });
        await Expect(entry).ToHaveCountAsync(1);
        await Expect(entry).ToContainTextAsync("新建用户");
        await Expect(entry).ToContainTextAsync("admin");
        await Expect(entry).ToContainTextAsync("系统管理员");
        await SaveScreenshotAsync(page, "admin-audit-zh");

        await page.SelectOptionAsync("#language", "en");
        await Expect(page.Locator("#tab-audit")).ToHaveTextAsync("Audit log");
        await Expect(entry).ToContainTextAsync("User created");
        await SaveScreenshotAsync(page, "admin-audit-en");
        Assert.Empty(errors);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_supervisor_gets_the_audit_log_only_and_a_dispatcher_no_link()
    {
        var (context, page, errors) = await OpenAsync();
        await using (context)
        {
            await SignInAsync(page, "supervisor");
            await page.ClickAsync("#admin-link");
            await Expect(page.Locator("body")).ToHaveAttributeAsync("data-ready", "true");
            await Expect(page.Locator("#page-audit")).ToBeVisibleAsync();
            await Expect(page.Locator("#tab-users")).ToBeHiddenAsync();
            await Expect(page.Locator("#tab-tokens")).ToBeHiddenAsync();
            await Expect(page.Locator("#audit-table tbody tr[data-action='auth.login_succeeded']").First).ToBeVisibleAsync();
            Assert.Empty(errors);
        }

        var (dispatcherContext, dispatcherPage, _) = await OpenAsync();
        await using (dispatcherContext)
        {
            await SignInAsync(dispatcherPage, "dispatcher");
            await Expect(dispatcherPage.Locator("#admin-link")).ToBeHiddenAsync();
            await dispatcherPage.GotoAsync(new Uri(browser.Fleet.Host.BaseAddress, "/admin.html").ToString());
            await Expect(dispatcherPage.Locator("#signed-out")).ToBeVisibleAsync();
            await Expect(dispatcherPage.Locator("#signed-out-message")).ToContainTextAsync("管理员或监管人员");
        }
    }

    private Task<(IBrowserContext Context, IPage Page, List<string> Errors)> OpenAsync() => BrowserPages.OpenAsync(browser.Browser);

    private async Task SignInAsync(IPage page, string username)
    {
        await page.GotoAsync(browser.Fleet.Host.BaseAddress.ToString());
        await Expect(page.Locator("#login-form")).ToBeVisibleAsync();
        await page.FillAsync("#login-username", username);
        await page.FillAsync("#login-password", browser.Fleet.Passwords[username]);
        await page.ClickAsync("#login-submit");
        await Expect(page.Locator("#app")).ToBeVisibleAsync();
    }

    private static async Task SaveScreenshotAsync(IPage page, string name)
    {
        var path = Path.Combine(TestPaths.Screenshots, $"{name}.png");
        var bytes = await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        TestContext.Current.AddAttachment($"{name}.png", bytes, "image/png");
    }
}
