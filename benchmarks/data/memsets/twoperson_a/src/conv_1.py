# tp-a-1: Hannah (Leeds, architectural assistant; memory owner) and Dev (Glasgow, marine-biology PhD),
# friends since first-year halls at university in Sheffield. Feb-Nov 2024. All text hand-written.
CONV = "tp-a-1"
OWNER = "Hannah"
NAMES = {"H": "Hannah", "D": "Dev"}
QUESTION_TIME = "2024-12-10T10:00:00+00:00"

SESSIONS = [
("2024-02-04T19:12:00+00:00", """
D| Hannah!! Are you alive? You've been suspiciously quiet since New Year.
H| Dev! I'm alive, barely. Work has been eating me. How's Glasgow?
D| Wet. Shockingly, it's wet. How's Leeds?
H| Also wet. We should start a support group.
D| Ha. So what's been keeping you busy apart from work? Tell me something fun.
H| Okay, actual news: I've taken up bouldering. My colleague Rhys dragged me to a gym called The Depot two weeks ago and now I'm hooked. @@h_climb_start
D| No way. You? The woman who needed a lie-down after climbing the stairs to the Arts Tower?
H| Rude but fair. My forearms are in bits. I go three evenings a week now.
D| That's brilliant, Hannah. Genuinely. Send me a video of you falling off something.
H| Only if you send me proof you've left the lab this month.
D| Left the lab? What's that? I'm writing up chapter three, the one on seagrass restoration in the Clyde, and it's slowly killing me. @@d_thesis_topic
H| Is Moira still sending you essays back covered in red pen?
D| Professor Dunbar doesn't do red pen anymore, she does tracked changes. Which is worse because there's no limit.
H| Oof. Poor Dev. How's Callum? Still practising the bagpipes at midnight?
D| He has moved on to 7am. He calls it "greeting the day". I call it a crime.
H| Ha! Biscuit would lose his mind. Speaking of, he knocked my monstera off the windowsill yesterday and then sat in the soil like a king. @@h_biscuit_plant
D| That cat has no shame. Give him a scratch from Uncle Dev.
H| Will do. Right, I need to make dinner. Let's not leave it a month next time.
D| Deal. Night, Hannah!
"""),
("2024-02-18T20:40:00+00:00", """
D| Hannah, massive family news. Are you sitting down?
H| I'm lying down actually, post-climbing. Go on.
D| Anjali got engaged! Marcus proposed on a hike in the Cairngorms last weekend. @@d_anjali_engaged
H| AH! Dev! That's amazing! Tell her congratulations from me. I always liked Marcus.
D| Everyone likes Marcus, it's a bit annoying honestly. Mum cried for an hour on the phone.
H| Of course she did. Have they picked a date?
D| September. And get this, they want to do it at Lake Como, because that's where Marcus's grandparents got married. @@d_wedding_como
H| Very fancy. Will there be a speech from the little brother?
D| Don't. I'm already sweating about it and it's seven months away.
H| You'll be great. Just don't mention the time she locked you in the garden shed. @@h_shed_tease
D| That's literally my best material.
H| Ha. In less romantic news, I've been put on a new project at work, a library refurbishment in Bradford. @@h_bradford_library
D| Oh nice, is it a proper architect-y job or are you just doing toilet layouts again?
H| Bit of both. But I get to do the reading room, which has this gorgeous old glass dome. I'm quite excited.
D| That sounds class, Hannah. You'll have to send me drawings.
H| I will. How's chapter three?
D| Moira said it "has promise". Which in Moira language means it's a bin fire.
H| Dev, that's progress. Take the win.
D| I'll take it. Night night.
"""),
("2024-03-09T11:05:00+00:00", """
D| Happy belated birthday!!! I'm the worst friend. The card is in the post, I swear.
H| Ha, you're forgiven. The card will arrive in April as usual.
D| So how does it feel being 28?
H| Exactly like 27 but with more back pain. @@h_age
D| What did you get up to on the day?
H| Chloe took me to this Korean barbecue place in town on Thursday night. We ate about nine kilos of meat. @@h_bday_kbbq
D| Living the dream. How is Chloe? Still massive?
H| Yes, she's about five months along now and very sick of people touching her bump. @@h_chloe_pregnant
D| I'd keep my hands to myself then. Right, my news: I bought a bike!
H| Dev. You said cycling in Glasgow was "a death wish".
D| I've evolved. It's a secondhand red Dawes, cost me ninety quid off a guy in Partick. @@d_bike
H| A red bike. Very dashing. Are you wearing a helmet?
D| Yes, Mum. Anyway, I sent the full chapter draft to Moira on Monday so I'm bracing for the tracked changes.
H| Fingers crossed. Have you thought about what you'll do after you finish?
D| Honestly no. Postdoc maybe? Or something outside academia. I keep changing my mind.
H| You've got time. Enjoy the bike.
D| Will do. Happy birthday again, old woman.
"""),
("2024-03-30T16:22:00+00:00", """
H| Dev, I'm having a crisis.
D| Uh oh. Hannah-level crisis or actual crisis?
H| Actual. My landlord is selling the flat. I've got to be out by the end of May. @@h_landlord_selling
D| Ah no, that's rubbish. You love that place.
H| I do! The bay window, the bakery downstairs that does those cardamom buns, the walk to work through the park. Chapel Allerton is perfect and I'll never afford anything else there. Everything I've seen online is either twice the rent or next to a motorway.
D| Have you started looking?
H| I've looked at two so far. One had mushrooms growing in the bathroom. The other was basically a cupboard.
D| Mushrooms. Classic Leeds rental.
H| And I have to find somewhere that takes cats, which rules out half of everything.
D| Biscuit's worth it though.
H| He is. Don't tell him I said that. Anyway, what are you up to? Still battling Moira?
D| I'm off to do fieldwork next week, actually. Four days on Cumbrae, out of the marine station at Millport. @@d_fieldwork_cumbrae
H| Ooh, island life. Will you be in the sea?
D| In a drysuit, measuring shoot density. It's not as glamorous as it sounds.
H| It sounds extremely glamorous to someone staring at a cupboard flat.
D| Fair. Want me to bring you back a rock?
H| Bring me back a flat.
D| I'll see what I can do. Good luck with the hunt, Hannah.
"""),
("2024-04-20T18:47:00+01:00", """
D| I'm back on the mainland! Still smell faintly of neoprene.
H| Welcome back, sailor. How was it?
D| Amazing honestly. Saw an otter on the second day, just eating a crab on the rocks like it owned the place. @@d_otter
H| Dev! That's adorable. Did you get a photo?
D| A blurry one. I'll send it. It looks like a wet sock but trust me.
H| Ha, it's definitely a wet sock. Still love it.
D| Any luck with flats?
H| YES. I found one! Headingley, near the cricket ground, a two-bed so I can finally have a proper desk. And the landlord said Biscuit is fine. @@h_found_flat
D| Hannah! That's brilliant. When do you move?
H| Saturday the 18th of May. I'm already dreading the packing. @@h_move_date
D| You've got like nine hundred books.
H| Don't remind me. Oh and climbing news: I finally got my first V3 on Thursday. The purple one in the cave. @@h_first_v3
D| I don't know what that means but I'm proud of you.
H| It means I'm basically a professional now.
D| Obviously. Any plans to take it outdoors?
H| Rhys keeps talking about Almscliff. I'm scared. @@h_almscliff
D| You'll be fine. Just don't die before the wedding, Anjali will never forgive you.
H| Noted. I'll try to stay in one piece, Dev.
"""),
("2024-05-12T21:15:00+01:00", """
H| How's your week been, Dev? I'm surrounded by boxes.
D| Oh, eventful. I had a job interview on Wednesday! @@d_interview_wed
H| What?! You kept that quiet!
D| Didn't want to jinx it. It's with a marine charity called Sea Futures Trust. In Plymouth. @@d_interview
H| Plymouth! That's the other end of the country.
D| I know. But the job is literally running their seagrass restoration projects. It's my thesis but in real life.
H| That sounds perfect for you. How did it go?
D| I think okay? They asked me what I'd do if a volunteer dropped a quadrat off the boat. I said "cry". They laughed, so.
H| Ha. When do you hear?
D| End of next week. Anyway, how's the packing?
H| I've done books, which is half my body weight. My dad's lending me his van for the move so I don't have to pay a company. @@h_dad_van
D| Graham to the rescue. Is he driving it?
H| Obviously. He doesn't let anyone touch that van. Chloe's too pregnant to lift anything so she's "supervising".
D| The most important job.
H| She's bringing sandwiches at least.
D| Keep me posted, Hannah. Good luck on the 18th.
H| And you on the job. Fingers crossed.
"""),
("2024-05-26T14:30:00+01:00", """
H| Dev, I'm in! Officially a Headingley resident.
D| Hannah! How did it go?
H| Mostly fine. Dad reversed the van into a bollard but it's "just a scratch". And Biscuit hid under the bath for two whole days. @@h_biscuit_bath
D| Poor lad. Has he come out now?
H| He has. He's decided the new windowsill is his and he watches the students going past.
D| Ha. A proper Headingley cat now. Okay, my turn?
H| Go on, you've got the voice of someone with news.
D| I got the job! Sea Futures offered it to me on Friday! @@d_got_job
H| DEV!!! That's incredible! I'm so happy for you!
D| I'm still a bit in shock. I start in September, once the thesis is done. @@d_start_sept
H| So you're actually moving to Plymouth.
D| I am. It's strange, I've been in Glasgow for seven years. Callum's already sulking.
H| He'll need a new audience for the bagpipes.
D| Ha. Also the viva is booked: the 14th of June. Moira says the external examiner is "fair but thorough". @@d_viva_date
H| Terrifying. You'll smash it though.
D| I hope so. Okay, go unpack something. Proud of you for moving without murdering anyone.
H| Proud of you for being employed! Speak soon.
"""),
("2024-06-15T12:10:00+01:00", """
H| Well?! Dev?! Don't leave me hanging!
D| I PASSED. Yesterday. Minor corrections! @@d_passed_viva
H| AAAAAH. Doctor Dev! I knew it!
D| It was four hours, Hannah. Four hours. The external asked me about one figure for about forty minutes.
H| Forty minutes on one figure? Which one?
D| The one with the shoot density maps from Cumbrae. She said the colour scale was "confusing". I was too tired to argue. @@d_viva_figure
H| Ha, the revenge of the otter trip.
D| Ha. Afterwards Moira took the whole lab out for dinner at the Ubiquitous Chip and I had way too much wine. @@d_viva_dinner
H| You deserved it. How's the head this morning?
D| Fragile. I'm eating a roll with tattie scone. Recovering.
H| Perfect hangover food. How long do you have for the corrections?
D| Three months but I want them done before I move.
H| Sensible. Oh, I got my invite to Anjali's wedding in the post! Gold writing and everything. @@h_invite
D| Oh good! She was so happy you could come. You're on the table with me, don't worry.
H| Thank god, I'd hate to be sat with the aunties asking when I'm getting married.
D| Oh they'll find you anyway. Nobody escapes the aunties.
H| I'll practise my excuses. Congratulations again, Doctor.
D| Thanks Hannah. It hasn't sunk in yet.
"""),
("2024-07-06T10:55:00+01:00", """
H| Dev!! I'm an auntie!
D| WHAT! Chloe had the baby?
H| On Tuesday! A little girl, Iris. Seven pounds two. @@h_iris_born
D| Iris! That's a gorgeous name. Congratulations, Auntie Hannah!
H| She's so tiny. I held her yesterday and was scared to breathe.
D| How are Chloe and Ben doing?
H| Exhausted but happy. Ben keeps taking photos of her sleeping, about four hundred a day.
D| New dad behaviour. Totally normal.
H| What about you? How are the corrections going?
D| Slowly. Mostly fixing that colour scale and adding a paragraph every examiner apparently wants.
H| Ha. Are you selling your stuff before the move?
D| Trying. I'm selling the red bike, I think. Plymouth is all hills. @@d_selling_bike
H| Glasgow is all hills!
D| Yes and I've suffered enough.
H| Ha. Fair enough, you've earned some flat pavements.
D| Send me a picture of Iris when Chloe's okay with it.
H| Will do. She has this frown like she's deeply disappointed in all of us.
D| A true critic. I like her already.
"""),
("2024-07-27T19:30:00+01:00", """
D| Corrections submitted! Moira signed them off this morning. @@d_corrections_done
H| Brilliant! So you're basically done done?
D| Done done. Now I just have to graduate, which won't be until December. @@d_grad_december
H| I'll come. I want to see you in a silly hat.
D| It's a floppy velvet thing. You'll love it.
H| How's the flat search in Plymouth?
D| Found one! It's in Stonehouse, about two minutes from the water. Tiny, but there's a balcony if you stand sideways. @@d_plymouth_flat
H| A sideways balcony. Very chic. When do you move?
D| The 24th of August. I'm driving down with a hired van and a lot of nervous energy. @@d_move_date
H| That's a long drive.
D| Eight hours, allegedly. I've made a playlist.
H| Please tell me it's not all sea shanties.
D| Only half. Anyway, how's climbing?
H| Good actually, I entered the bouldering league at The Depot and came fifth in the novice category! @@h_league_fifth
D| Fifth! Hannah, that's a podium basically.
H| The podium is three people, Dev.
D| It's an extended podium.
H| Ha. I'll take it.
"""),
("2024-08-18T22:05:00+01:00", """
D| Last Sunday in Glasgow. I'm feeling weirdly emotional.
H| Oh Dev. Seven years is a long time. Did you do a send-off?
D| Last night. Callum organised it at the pub by the uni and the whole lab came, even Moira for one drink. Someone made a slideshow of every terrible photo of me from the last seven years, including the one where I fell off the boat at Millport. I nearly cried, Hannah.
H| Aww. Did anyone give a speech?
D| Callum did. Then he gave me a bagpipe chanter as a leaving present so I can "carry on the tradition". @@d_chanter_gift
H| Ha! That's perfect. Are you going to learn?
D| Absolutely not. It's going on a shelf as a threat.
H| Ha, a decorative threat. Very you.
D| Did you book flights for Como?
H| Yes! I'm flying from Manchester to Milan on Thursday the 12th of September. Then a train up to the lake. @@h_flight
D| Great, you'll be there in time for the mehndi on the Friday.
H| I've never been to a mehndi! What do I wear?
D| Something bright. Anjali said no white, no black, and definitely no beige.
H| I own mostly beige, Dev.
D| I know. That's why I'm telling you.
H| Ha, fine. I'll go shopping with Chloe. She needs to get out of the house anyway.
D| Perfect. I'll send you the schedule Anjali made. It's colour-coded.
H| Of course it is. Safe drive next week.
"""),
("2024-09-01T17:40:00+01:00", """
H| Dev! First week at Sea Futures done. How was it?
D| Honestly, really good. Everyone's lovely. My manager is called Ifeoma and she's been there since the start. @@d_manager
H| That's a relief. What did you actually do all week?
D| Mostly inductions and safety forms. But on Thursday we went out on the boat to look at the seagrass beds in Plymouth Sound. @@d_plymouth_sound
H| So basically your thesis but with sunshine.
D| Sunshine and way more paperwork.
H| How's the flat?
D| Still full of boxes. I have a kettle and a mattress. It's fine.
H| Priorities. Oh, sad news from here: Rhys is moving to London, his partner got a job there. @@h_rhys_london
D| Ah no, your climbing buddy! Who will dare you to do the scary routes now?
H| I know. I'll have to make new friends at The Depot. Like a grown-up.
D| You'll have a whole crew by October, Hannah. You're good at that.
H| Maybe. Did you find a good coffee place yet?
D| There's one near the Royal William Yard that does a great flat white. That's enough to keep me here.
H| Ha. Right, two weeks till Como!
D| I know! Anjali is on about her fifth spreadsheet.
H| She's going to make a fantastic bride and a terrifying wedding planner.
"""),
("2024-09-22T13:20:00+01:00", """
H| I have finally recovered from the wedding. I think.
D| Barely. I slept for fourteen hours when I got back.
H| Dev, it was the most beautiful wedding I've ever been to. Anjali looked unreal in that red lehenga, the villa garden was covered in marigolds, and when the sun went down over the lake during the pheras I actually had to borrow a tissue from your auntie.
D| She really did. And Marcus cried through the whole vows.
H| Everyone cried. Even your dad.
D| Especially my dad. Don't tell him I told you.
H| Your speech was brilliant too. The shed story got the biggest laugh of the night. @@d_speech_shed
D| Anjali threw a bread roll at me but it was worth it.
H| And I can't believe I danced with your Uncle Raj for forty minutes. He does not get tired. @@h_uncle_raj
D| He's a legend. He's been talking about you on the family group chat. "The tall architect girl."
H| Ha! I'm honoured.
D| Also, did you ever find out what happened to your sunglasses?
H| Oh god. No. I left them on the boat across the lake on Sunday. Someone in Bellagio has very nice sunglasses now. @@h_lost_sunglasses
D| RIP. They served you well.
H| They really did. How's Plymouth after all that?
D| Quiet. Very quiet after a hundred Mehtas in one villa.
H| I bet. Thank you for having me, honestly. Best weekend of the year.
D| Thanks for coming, Hannah. It meant a lot to Anjali. And me.
"""),
("2024-10-13T20:02:00+01:00", """
D| Hannah, I've done something possibly stupid.
H| Oh no. What now?
D| I've joined the colleagues who swim at Tinside Lido every morning before work. In October. @@d_swimming
H| Outdoor swimming? In October? Dev, have you been bitten by something?
D| It's invigorating! That's what they keep saying anyway. I can't feel my feet.
H| Ha. Who got you into it?
D| Ifeoma. She's been doing it for ten years. She's basically a seal. @@d_ifeoma_swim
H| Fair enough. I have news too, by the way.
D| Go on, I'm listening.
H| I got another cat. @@h_marmalade_adopt
D| HANNAH. What happened to "one cat is enough"?
H| She was at the rescue in Kirkstall and she's ginger and she looked at me. Her name's Marmalade. @@h_marmalade_name
D| Marmalade! That's a great name. How's Biscuit taking it?
H| He's furious. He's been hissing at a closed door for four days.
D| Give it a few weeks. They'll be best mates.
H| I hope so. Also the Bradford library finally went to planning.
D| The one with the glass dome?
H| That's the one. Fingers crossed the council likes it.
D| They will. Tell Marmalade her Uncle Dev says hi.
"""),
("2024-11-03T18:25:00+00:00", """
D| Hiya. Are you doing anything for bonfire night?
H| Chloe and Ben are taking Iris to her first fireworks at Roundhay Park on Tuesday. I'm going along. @@h_roundhay
D| She'll sleep through the whole thing.
H| Probably. How are you? Still swimming with the seals?
D| Still going. I did eleven minutes last Friday. Personal record.
H| Madness. Anything else new?
D| Well. I might have adopted a dog.
H| Dev! Everyone's adopting animals! What kind of dog?
D| A scruffy lurcher from a rescue in Cornwall. He's two, he's mostly legs, and I've named him Kelp. @@d_kelp
H| KELP. That is the most marine biologist name ever.
D| Ifeoma suggested "Posidonia" but I said that's too long to shout on a beach.
H| Ha, Kelp is perfect. Does he swim with you?
D| He stands at the edge and barks at me. He's very sensible. @@d_kelp_barks
H| Smarter than you then.
D| Obviously. How are the cats?
H| Better. Marmalade slept on top of Biscuit yesterday and he let her. Progress.
D| Told you so, Hannah.
H| You did. Don't get used to it.
"""),
("2024-11-24T15:45:00+00:00", """
H| Dev, quick question, when exactly is your graduation? I want to book trains.
D| Thursday the 5th of December, in the afternoon. At the university in Glasgow. @@d_grad_date
H| Perfect. I'll come up on the Wednesday and stay over.
D| Amazing. Mum and Dad are coming, and Anjali and Marcus too. We're going for dinner after. @@d_grad_family
H| Am I allowed to cheer embarrassingly loud?
D| It's expected. Uncle Raj would if he was coming.
H| Ha. I'll do it on his behalf. @@h_cheer_raj
D| Also I've had a big week at work. Ifeoma asked me to lead the new restoration project in the Fal estuary in spring. @@d_fal_project
H| Dev! That's a big deal. Leading it?
D| Leading it! Which means I'll be writing grant reports. Moira would be laughing at me.
H| She'd be proud of you. What about Kelp, can he come on the boat?
D| Absolutely not. He ate a sock on Tuesday.
H| Ha. My news: I got V5 on Friday! The nasty overhang one. @@h_v5
D| Wait, weren't you on V3 not long ago?
H| I was. I've been training with this group on Wednesdays. They're very intense. @@h_wed_group
D| Told you you'd make new climbing friends.
H| You did. Twice now you've been right. It's unsettling.
D| I'm a doctor now. I know things.
H| Ha. See you in Glasgow, Doctor.
"""),
]

QUESTIONS = [
# single-hop
("single-hop", "Who first took Hannah to the bouldering gym?", "Her colleague Rhys.", "h_climb_start"),
("single-hop", "What is Dev's PhD thesis about?", "Seagrass restoration in the Clyde.", "d_thesis_topic"),
("single-hop", "What did Hannah's cat Biscuit do to her monstera?", "He knocked it off the windowsill and then sat in the spilled soil.", "h_biscuit_plant"),
("single-hop", "Where did Marcus propose to Anjali?", "On a hike in the Cairngorms.", "d_anjali_engaged"),
("single-hop", "What project did Hannah get assigned to at work in February?", "A library refurbishment in Bradford (she works on the reading room with the glass dome).", "h_bradford_library"),
("single-hop", "Where did Chloe take Hannah for her birthday?", "To a Korean barbecue restaurant in town.", "h_bday_kbbq"),
("single-hop", "How much did Dev pay for his bike, and what kind was it?", "Ninety pounds for a secondhand red Dawes, bought from a guy in Partick.", "d_bike"),
("single-hop", "What animal did Dev see during his fieldwork on Cumbrae?", "An otter eating a crab on the rocks.", "d_otter"),
("single-hop", "What organisation did Dev interview with, and where is it based?", "Sea Futures Trust, a marine charity in Plymouth.", "d_interview"),
("single-hop", "How did Biscuit react to moving house?", "He hid under the bath for two days.", "h_biscuit_bath"),
("single-hop", "Where did Dev's supervisor take the lab after his viva?", "To dinner at the Ubiquitous Chip.", "d_viva_dinner"),
("single-hop", "What is the name of Hannah's niece?", "Iris.", "h_iris_born"),
("single-hop", "Where in Plymouth is Dev's flat?", "In Stonehouse, about two minutes from the water; it has a tiny balcony.", "d_plymouth_flat"),
("single-hop", "What place did Hannah get in the bouldering league?", "Fifth in the novice category.", "h_league_fifth"),
("single-hop", "What did Callum give Dev as a going-away gift?", "A bagpipe chanter.", "d_chanter_gift"),
("single-hop", "Who is Dev's manager at his new job?", "Ifeoma.", "d_manager"),
("single-hop", "What did Hannah lose at Lake Como?", "Her sunglasses, left on the boat across the lake (to Bellagio).", "h_lost_sunglasses"),
("single-hop", "What did Dev name the dog he adopted?", "Kelp (a scruffy two-year-old lurcher from a rescue in Cornwall).", "d_kelp"),
("single-hop", "What new project did Ifeoma ask Dev to lead?", "A new seagrass restoration project in the Fal estuary, starting in spring.", "d_fal_project"),
# multi-hop
("multi-hop", "Which of Hannah's climbing partners later moved away, and where to?", "Rhys, her colleague who first took her climbing, moved to London because his partner got a job there.", "h_climb_start h_rhys_london"),
("multi-hop", "Did Dev keep the bike he bought in Glasgow when he moved to Plymouth?", "No. He bought a secondhand red Dawes in March but decided to sell it before the move because Plymouth is hilly.", "d_bike d_selling_bike"),
("multi-hop", "How many cats does Hannah have by the end, and what are their names?", "Two: Biscuit and Marmalade, a ginger cat from the rescue in Kirkstall.", "h_biscuit_plant h_marmalade_adopt h_marmalade_name"),
("multi-hop", "What story did Dev use in his wedding speech that Hannah had teased him about months earlier?", "The time Anjali locked him in the garden shed; Hannah joked in February that he shouldn't mention it, and it got the biggest laugh at the wedding.", "h_shed_tease d_speech_shed"),
("multi-hop", "Where was Hannah living before her move, and where did she move to?", "She lived in Chapel Allerton until her landlord sold the flat, then moved to a two-bed in Headingley near the cricket ground.", "h_landlord_selling h_found_flat"),
("multi-hop", "How has Hannah's bouldering grade improved over the year?", "She got her first V3 in April and reached V5 in November.", "h_first_v3 h_v5"),
("multi-hop", "Is Dev's new job related to what he studied for his PhD?", "Yes. His thesis was on seagrass restoration in the Clyde, and at Sea Futures Trust he runs seagrass restoration work, for example the beds in Plymouth Sound.", "d_thesis_topic d_interview d_plymouth_sound"),
("multi-hop", "Which figure in Dev's thesis gave him trouble in the viva, and what fieldwork was it from?", "The shoot density maps, whose colour scale the external examiner found confusing; the data came from his fieldwork on Cumbrae, out of Millport.", "d_fieldwork_cumbrae d_passed_viva d_viva_figure"),
("multi-hop", "Who helped Hannah move house, and how did it go?", "Her dad Graham drove his van and Chloe supervised. Graham reversed the van into a bollard (just a scratch), and Biscuit hid under the bath for two days.", "h_dad_van h_biscuit_bath"),
("multi-hop", "Who introduced Dev to cold-water swimming, and what does his dog make of it?", "His manager Ifeoma, who has swum at Tinside Lido for ten years. Kelp stands at the edge and barks at him.", "d_swimming d_ifeoma_swim d_kelp_barks"),
("multi-hop", "Was Chloe's baby born before or after Hannah moved flats?", "After. Hannah moved on 18 May and Iris was born on Tuesday 2 July.", "h_move_date h_iris_born"),
("multi-hop", "Which family members is Dev expecting at his graduation, and what did Hannah plan to do on behalf of someone who isn't coming?", "His mum and dad, plus Anjali and Marcus. Hannah said she'd cheer embarrassingly loudly on behalf of Uncle Raj, the uncle she danced with for forty minutes at the wedding.", "h_uncle_raj d_grad_family h_cheer_raj"),
# temporal
("temporal", "Roughly when did Hannah start bouldering?", "Around 21 January 2024, two weeks before the conversation on 4 February 2024.", "h_climb_start"),
("temporal", "On what date was Hannah's birthday in 2024?", "Thursday 7 March 2024 (she turned 28).", "h_bday_kbbq h_age"),
("temporal", "When did Dev pass his viva?", "On Friday 14 June 2024, with minor corrections.", "d_viva_date d_passed_viva"),
("temporal", "When was Hannah's niece Iris born?", "Tuesday 2 July 2024.", "h_iris_born"),
("temporal", "When was Dev offered the Sea Futures job?", "Friday 24 May 2024.", "d_got_job"),
("temporal", "How long after his job interview did Dev get the offer?", "About two and a half weeks: interview on Wednesday 8 May 2024, offer on Friday 24 May 2024.", "d_interview_wed d_interview d_got_job"),
("temporal", "On what date did baby Iris go to her first fireworks display, and who was going with her?", "Tuesday 5 November 2024 (bonfire night), at Roundhay Park, with Chloe, Ben and Hannah.", "h_roundhay"),
("temporal", "When did Dev's supervisor sign off his corrections?", "Saturday 27 July 2024.", "d_corrections_done"),
("temporal", "How long had Dev been in Plymouth when he started the morning swims at Tinside Lido?", "About seven weeks: he moved on 24 August 2024 and told Hannah about the swimming on 13 October 2024.", "d_move_date d_swimming"),
# open-domain
("open-domain", "In which country did Anjali and Marcus get married?", "Italy (at Lake Como).", "d_wedding_como"),
("open-domain", "Which Scottish island did Dev do his fieldwork on, and what body of water is it in?", "Great Cumbrae, in the Firth of Clyde.", "d_fieldwork_cumbrae"),
("open-domain", "Dev's dog is named after what kind of organism?", "A large brown seaweed (kelp), which suits a marine biologist.", "d_kelp"),
("open-domain", "Is Hannah likely to enjoy a trip to a climbing crag like Almscliff now?", "Probably yes. She was scared of outdoor climbing in April, but by November she is climbing V5 and training with an intense Wednesday group.", "h_almscliff h_first_v3 h_v5 h_wed_group"),
("open-domain", "Would Hannah's new flat be handy for going to watch a Test match?", "Yes. It is in Headingley, near the cricket ground, which hosts Test cricket.", "h_found_flat"),
("open-domain", "Which Italian region was Hannah travelling to in September?", "Lombardy. She flew from Manchester to Milan and took the train up to Lake Como for the wedding.", "d_wedding_como h_flight"),
("open-domain", "Given his thesis and job, what kind of marine plant is Dev an expert in?", "Seagrass, a flowering marine plant that forms underwater meadows.", "d_thesis_topic d_plymouth_sound"),
]
