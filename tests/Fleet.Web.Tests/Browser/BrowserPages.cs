using Microsoft.Playwright;

namespace Fleet.Web.Tests.Browser;

/// <summary>What every page test opens: a zh-CN desktop page whose script errors are collected and console echoed.</summary>
internal static class BrowserPages
{
    public static async Task<(IBrowserContext Context, IPage Page, List<string> Errors)> OpenAsync(IBrowser browser)
    {
        var context = await browser.NewContextAsync(new BrowserNewContextOptions
        {
            ViewportSize = new ViewportSize { Width = 1280, Height = 800 },
            Locale = "zh-CN",
        });
        var page = await context.NewPageAsync();
        var errors = new List<string>();
        var output = TestContext.Current.TestOutputHelper;
        page.PageError += (_, message) => errors.Add(message);
        page.Console += (_, message) => output?.WriteLine($"[browser {message.Type}] {message.Text}");
        return (context, page, errors);
    }
}
